"""``/api/v1/changes/``: change requests and their actions.

Thin viewset: every write goes through ``changes.services``. The change a write acts on is
locked and ``If-Match`` is checked (``PortalViewSetMixin``); the whole request is one
transaction, rolled back on any error, so a refused request writes nothing. Changes are not
deleted (405): cancel them (``POST …/transition/ {"state": "canceled", "note"}``).

On ``/api/v1/changes/{id}/``: ``transition/`` · ``approve/`` · ``conflicts/`` · ``timeline/`` ·
``notes/`` · ``risk/`` (GET the explanation, POST ``answers``) · ``override-risk/`` (managers) ·
``incidents/`` (GET the linked and caused incidents, POST a link or ``unlink``).
On ``/api/v1/changes/``: ``calendar/?start=&end=`` · ``kpis/?start=&end=`` · ``cab/`` · ``feed/``.
The blackout windows, templates, risk questionnaire and approval policies are in
``changes.api.configuration``.
"""

import datetime as dt
import re
from datetime import timedelta

from django.db.models import F, Prefetch, Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from changes import conflicts, kpis, selectors
from changes.api.serializers import (
    CABAgendaSerializer,
    ChangeApproveSerializer,
    ChangeCalendarSerializer,
    ChangeConflictSerializer,
    ChangeFeedSerializer,
    ChangeIncidentsSerializer,
    ChangeKPISerializer,
    ChangeLinkIncidentSerializer,
    ChangeNoteSerializer,
    ChangeRiskAnswersSerializer,
    ChangeRiskExplanationSerializer,
    ChangeRiskOverrideSerializer,
    ChangeSerializer,
    ChangeTimelineEntrySerializer,
    ChangeTransitionSerializer,
    ChangeWriteSerializer,
)
from changes.choices import ChangeTimelineKind
from changes.filters import ChangeFilterSet
from changes.models import (
    CalendarFeed,
    ChangeApproval,
    ChangeApprovalStage,
    ChangeRequest,
    ChangeTimelineEntry,
    RiskQuestion,
)
from changes.services import approvals
from changes.services import changes as services
from cmdb.models import CI
from incidents.models import Incident
from itom.api.params import kinds_param
from itom.api.viewsets import PortalModelViewSet

# The longest period the calendar answers for, and the KPIs' default period.
CALENDAR_MAX_DAYS = 400
KPI_DEFAULT_DAYS = 90
INCIDENT_FIELDS = ("id", "number", "title", "state", "priority", "assignment_team_id", "assignee_id")


def change_queryset():
    """Changes with what ``ChangeSerializer`` shows at a constant number of queries: people and
    team joined; CIs, services, incidents and the current round's stages with their decisions
    prefetched (one query each)."""
    stages = (
        ChangeApprovalStage.objects.filter(round=F("change__approval_round"))
        .select_related("approver_team")
        .prefetch_related(
            Prefetch("decisions", queryset=ChangeApproval.objects.select_related("approver").order_by("decided_at"))
        )
        .order_by("order")
    )
    incidents = Incident.objects.only(*INCIDENT_FIELDS).order_by("number")
    return ChangeRequest.objects.select_related(
        "template", "requester", "assignment_team", "assignee"
    ).prefetch_related(
        Prefetch("affected_cis", queryset=CI.objects.only("id", "name").order_by("name", "id")),
        Prefetch("impacted_cis", queryset=CI.objects.only("id").order_by("id")),
        Prefetch("impacted_services", queryset=CI.objects.only("id", "name").order_by("name", "id")),
        Prefetch("incidents", queryset=incidents),
        Prefetch("caused_incidents", queryset=incidents),
        Prefetch("approval_stages", queryset=stages),
    )


def _require(user, *permissions):
    missing = [p for p in permissions if not user.has_perm(p)]
    if missing:
        raise PermissionDenied(f"You need the {', '.join(missing)} permission.")


_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
_OFFSET_LOST_IN_QUERY = re.compile(r" (\d{2}:?\d{2})$")  # "…T10:00:00 02:00": a "+" read as a space


def parse_moment(params, name, *, end=False, required=True, default=None):
    """The query parameter ``name`` as an aware datetime: an ISO date-time, or an ISO date (its
    start — or, for the end of a period, the start of the next day, so the date is included).
    Missing or malformed → a 400 naming the parameter."""
    raw = (params.get(name) or "").strip()
    if not raw:
        if required:
            raise serializers.ValidationError({name: ["Required: an ISO date (2025-03-31) or date-time."]})
        return default
    raw = _OFFSET_LOST_IN_QUERY.sub(r"+\1", raw) if "T" in raw else raw
    try:
        day = parse_date(raw) if _DATE_ONLY.fullmatch(raw) else None
        if day is not None:
            moment = dt.datetime.combine(day + timedelta(days=1) if end else day, dt.time.min)
        else:
            moment = parse_datetime(raw)
            if moment is None:
                raise ValueError
    except ValueError:
        raise serializers.ValidationError(
            {name: [f"“{raw}” is not an ISO date (2025-03-31) or date-time (2025-03-31T14:00:00Z)."]}
        ) from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)


def parse_period(params, *, max_days=None, default_days=None):
    """``start`` and ``end`` of a period (see ``parse_moment``): both required unless
    ``default_days`` is given (then ``end`` defaults to now and ``start`` to that many days
    before it); ``end`` after ``start``; at most ``max_days`` long."""
    optional = default_days is not None
    end = parse_moment(params, "end", end=True, required=not optional, default=timezone.now())
    start = parse_moment(
        params, "start", required=not optional, default=end - timedelta(days=default_days or 0) if optional else None
    )
    if end <= start:
        raise serializers.ValidationError({"end": ["The end must be after the start."]})
    if max_days is not None and end - start > timedelta(days=max_days):
        raise serializers.ValidationError({"end": [f"The period may be at most {max_days} days long."]})
    return start, end


def _feed_url(request, feed):
    try:
        path = reverse("changes:calendar_feed", args=[feed.token])
    except NoReverseMatch:  # the change pages are not installed (an API-only deployment)
        path = f"/changes/calendar/feed/{feed.token}.ics"
    return request.build_absolute_uri(path)


class ChangeRequestViewSet(PortalModelViewSet):
    """Change requests, with their risk, current approval round and incidents embedded.
    ``?queue=mine|team|approvals|scheduled|open|all`` gives the list tabs (``changes.filters``)."""

    queryset = ChangeRequest.objects.all()
    serializer_class = ChangeSerializer
    filterset_class = ChangeFilterSet
    ordering_fields = ["number", "title", "state", "type", "planned_start", "planned_end", "created_at", "updated_at"]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    @property
    def action_permissions(self):
        write = "view" if self.request.method in SAFE_METHODS else "change"
        return {
            "transition": "change",
            "approve": "change",
            "conflicts": "view",
            "timeline": "view",
            "notes": "change",
            "risk": write,
            "override_risk": "change",
            "incidents": write,
            "calendar": "view",
            "kpis": "view",
            "cab": "view",
            # The caller's own feed: reading the calendar is enough to subscribe to it.
            "feed": "view",
        }

    def get_queryset(self):
        if self.request.method in SAFE_METHODS and self.action in ("list", "retrieve"):
            return change_queryset()
        return ChangeRequest.objects.all()  # writes lock the row; actions read what they need

    def _answer(self, change, code=status.HTTP_200_OK):
        fresh = change_queryset().get(pk=change.pk)
        response = Response(ChangeSerializer(fresh, context=self.get_serializer_context()).data, status=code)
        return self._with_etag(response, fresh)

    # --- create and update through the services --------------------------------------------------

    @extend_schema(
        request=ChangeWriteSerializer,
        responses={201: ChangeSerializer, 400: OpenApiResponse(description="A field is missing or wrong.")},
        summary="Request a change",
        description="A standard change names an approved `template`; `incidents` requests the change for "
        "them (they go on hold awaiting it); `risk_answers` answers the risk questionnaire.",
    )
    def create(self, request, *args, **kwargs):
        params = ChangeWriteSerializer(data=request.data, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        incidents = list(dict.fromkeys(data.pop("incidents", None) or []))
        if incidents:
            _require(request.user, "incidents.change_incident")
            first, *others = incidents
            change = services.request_change_for_incident(first, user=request.user, incidents=others, **data)
        else:
            change = services.create_change(user=request.user, **data)
        return self._answer(change, status.HTTP_201_CREATED)

    @extend_schema(request=ChangeWriteSerializer, responses=ChangeSerializer, summary="Edit a change")
    def partial_update(self, request, *args, **kwargs):
        change = self.get_object()
        params = ChangeWriteSerializer(change, data=request.data, partial=True, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        change = services.update_change(change, user=request.user, **params.validated_data)
        return self._answer(change)

    # --- the change's life -----------------------------------------------------------------------

    @extend_schema(
        request=ChangeTransitionSerializer,
        responses={
            200: ChangeSerializer,
            400: OpenApiResponse(description="A detail the move needs is missing (named by field)."),
            409: OpenApiResponse(
                description="The move is not allowed from the current state (`allowed` lists where it may "
                "go), or the change awaits approval, or a blackout window blocks its schedule."
            ),
        },
        summary="Change the change's state",
        description="`authorize` needs the plans and the window (and the risk questionnaire answered); "
        "`review` and `closed` need `close_code`; `closed` after a required review needs `review_notes`; "
        "back to `new` and `canceled` need a `note`; `scheduled` into a blackout window needs an emergency "
        "change with an `emergency_justification`.",
    )
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        params = ChangeTransitionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        data = dict(params.validated_data)
        change = services.transition(self.get_object(), data.pop("state"), user=request.user, **data)
        return self._answer(change)

    @extend_schema(
        request=ChangeApproveSerializer,
        responses={
            200: ChangeSerializer,
            400: OpenApiResponse(description="Unknown decision, or a rejection without a comment."),
            403: OpenApiResponse(description="Not an approver of the pending stage, or the caller's own change."),
            409: OpenApiResponse(description="Not awaiting approval, or the caller already decided this stage."),
        },
        summary="Approve or reject the pending approval stage",
        description="One rejection sends the change back to `new`; the last approval schedules it (unless a "
        "blackout window blocks it). The answer carries the change's `approval` and `state`.",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        params = ChangeApproveSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        change = self.get_object()
        approvals.decide(change, user=request.user, **params.validated_data)
        return self._answer(change)

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description="Check this window instead of the planned one (ISO)."),
            OpenApiParameter("end", str, description="… and this end."),
        ],
        responses=ChangeConflictSerializer(many=True),
        summary="The conflicts of the change's window",
        description="Other booked changes on the same CIs or on CIs of the impact set, the assignee booked "
        "twice, and blackout windows covering the change. Empty without a window.",
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def conflicts(self, request, pk=None):
        change = self.get_object()
        start = end = None
        if request.query_params.get("start") or request.query_params.get("end"):
            start, end = parse_period(request.query_params)
        found = conflicts.find_conflicts(change, start=start, end=end)
        return Response(ChangeConflictSerializer(found, many=True).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "kind", str, many=True, description=f"Only these kinds: {', '.join(ChangeTimelineKind.values)}"
            )
        ],
        responses=ChangeTimelineEntrySerializer(many=True),
        summary="The timeline, oldest first",
        description="Work notes, state changes, approval decisions, risk, schedule, assignment and links.",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, pk=None):
        change = self.get_object()
        kinds = kinds_param(request.query_params, ChangeTimelineKind)
        entries = ChangeTimelineEntry.objects.filter(change=change).order_by("time", "id")
        if kinds:
            entries = entries.filter(kind__in=kinds)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(ChangeTimelineEntrySerializer(page, many=True).data)

    @extend_schema(
        request=ChangeNoteSerializer, responses={201: ChangeTimelineEntrySerializer}, summary="Add a work note"
    )
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        params = ChangeNoteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        change = self.get_object()
        entry = services.add_note(change, user=request.user, body=params.validated_data["body"])
        if not isinstance(entry, ChangeTimelineEntry):
            entry = ChangeTimelineEntry.objects.filter(change=change, kind=ChangeTimelineKind.NOTE).latest("time", "id")
        return Response(ChangeTimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    # --- risk ------------------------------------------------------------------------------------

    def _risk(self, change):
        change = ChangeRequest.objects.select_related("risk_overridden_by").get(pk=change.pk)
        chosen = set(change.risk_answers.values_list("pk", flat=True))
        questions = (
            RiskQuestion.objects.filter(Q(active=True) | Q(options__in=chosen))
            .distinct()
            .prefetch_related("options")
            .order_by("order", "id")
        )
        change.explained_questions = [
            {
                "id": question.pk,
                "text": question.text,
                "help_text": question.help_text,
                "options": list(question.options.all()),
                "answer": next((o.pk for o in question.options.all() if o.pk in chosen), None),
            }
            for question in questions
        ]
        return Response(ChangeRiskExplanationSerializer(change).data)

    @extend_schema(
        methods=["GET"], responses=ChangeRiskExplanationSerializer, summary="The risk and how it was reached"
    )
    @extend_schema(
        methods=["POST"],
        request=ChangeRiskAnswersSerializer,
        responses=ChangeRiskExplanationSerializer,
        summary="Answer the risk questionnaire",
        description="One option per question; the risk is assessed again. Only while the change is new or "
        "being assessed (else 409).",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def risk(self, request, pk=None):
        change = self.get_object()
        if request.method == "POST":
            params = ChangeRiskAnswersSerializer(data=request.data)
            params.is_valid(raise_exception=True)
            change = services.set_risk_answers(change, user=request.user, option_ids=params.validated_data["answers"])
        return self._risk(change)

    @extend_schema(
        request=ChangeRiskOverrideSerializer,
        responses={200: ChangeRiskExplanationSerializer, 403: OpenApiResponse(description="Not a manager.")},
        summary="Override the risk level (managers)",
        description="A `level` with a `reason` (audited); an empty level returns to the computed one.",
    )
    @action(detail=True, methods=["post"], url_path="override-risk", url_name="override-risk")
    def override_risk(self, request, pk=None):
        params = ChangeRiskOverrideSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        change = services.override_risk(self.get_object(), user=request.user, **params.validated_data)
        return self._risk(change)

    # --- incidents -------------------------------------------------------------------------------

    @extend_schema(methods=["GET"], responses=ChangeIncidentsSerializer, summary="Linked and caused incidents")
    @extend_schema(
        methods=["POST"],
        request=ChangeLinkIncidentSerializer,
        responses=ChangeSerializer,
        summary="Link an incident, or mark one as caused by the change",
        description="`relation: fixes` links an open incident (it goes on hold awaiting the change); "
        "`relation: caused` marks the change as its cause; `unlink: true` removes either.",
    )
    @action(detail=True, methods=["get", "post"], filter_backends=[])
    def incidents(self, request, pk=None):
        change = self.get_object()
        if request.method == "GET":
            fresh = change_queryset().get(pk=change.pk)
            data = {"incidents": fresh.incidents.all(), "caused_incidents": fresh.caused_incidents.all()}
            return Response(ChangeIncidentsSerializer(data).data)
        params = ChangeLinkIncidentSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        incident, relation, unlink = (params.validated_data[k] for k in ("incident", "relation", "unlink"))
        _require(request.user, "incidents.change_incident")
        if relation == "caused":
            services.mark_cause(change, incident, user=request.user, caused=not unlink)
        elif unlink:
            services.unlink_incident(change, incident, user=request.user)
        else:
            services.link_incident(change, incident, user=request.user)
        return self._answer(change)

    # --- across changes --------------------------------------------------------------------------

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, required=True, description="ISO date or date-time."),
            OpenApiParameter("end", str, required=True, description="ISO date (included) or date-time."),
        ],
        responses={200: ChangeCalendarSerializer, 400: OpenApiResponse(description="start/end missing or malformed.")},
        summary="The change calendar of a period",
        description=f"Changes whose planned window overlaps the period (canceled ones left out) and the "
        f"active blackout windows overlapping it. At most {CALENDAR_MAX_DAYS} days.",
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def calendar(self, request):
        start, end = parse_period(request.query_params, max_days=CALENDAR_MAX_DAYS)
        entries = selectors.calendar_entries(start, end)
        blackouts = entries.blackouts.prefetch_related("ci_classes", "business_services")
        calendar = {"start": start, "end": end, "changes": entries.changes, "blackouts": blackouts}
        return Response(ChangeCalendarSerializer(calendar).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("start", str, description=f"ISO date or date-time; default {KPI_DEFAULT_DAYS} days ago."),
            OpenApiParameter("end", str, description="ISO date (included) or date-time; default now."),
        ],
        responses={200: ChangeKPISerializer, 400: OpenApiResponse(description="start/end malformed.")},
        summary="Change KPIs of a period",
        description="Success rate, emergency share, changes that caused incidents, approval lead time. "
        "Rates are fractions; null when there is nothing to divide.",
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def kpis(self, request):
        start, end = parse_period(request.query_params, default_days=KPI_DEFAULT_DAYS)
        return Response(ChangeKPISerializer(kpis.change_kpis(start, end)).data)

    @extend_schema(responses=CABAgendaSerializer, summary="The agenda of the next CAB meeting")
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def cab(self, request):
        return Response(CABAgendaSerializer(approvals.cab_agenda()).data)

    @extend_schema(methods=["GET"], request=None, responses=ChangeFeedSerializer, summary="The caller's iCalendar feed")
    @extend_schema(
        methods=["POST"],
        request=None,
        responses=ChangeFeedSerializer,
        summary="Regenerate the caller's iCalendar feed URL",
        description="The old URL stops working at once.",
    )
    @action(detail=False, methods=["get", "post"], filter_backends=[], pagination_class=None)
    def feed(self, request):
        feed, created = CalendarFeed.objects.get_or_create(user=request.user)
        if request.method == "POST" and not created:
            feed.regenerate()
        data = {
            "url": _feed_url(request, feed),
            "created_at": feed.created_at,
            "updated_at": feed.updated_at,
            "last_fetched_at": feed.last_fetched_at,
        }
        return Response(ChangeFeedSerializer(data).data)
