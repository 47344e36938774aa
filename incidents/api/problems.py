"""``/api/v1/problems/`` and ``/api/v1/known-errors/``: thin viewsets, every write through
``incidents.services.problems``.

Problems: CRUD, plus ``POST …/{id}/transition/ {"state", "note"}`` (409 with the allowed states),
``…/workaround/ {"workaround"}`` (a work note on every open linked incident),
``…/link-incidents/ {"incidents": [ids or numbers]}``, ``…/unlink-incident/ {"incident"}``,
``…/known-error/`` (records the problem as a known error), ``…/notes/ {"body"}``, ``GET
…/timeline/`` and ``GET …/incidents/``; ``POST /api/v1/problems/from-incidents/ {"incidents",
"title"?}`` opens a problem for incidents picked in the queue.

Known errors: CRUD, ``?q=`` matching every word in the title, symptom, root cause or workaround,
``?ci=`` the known errors of a CI, ``?active=false`` the retired ones.
"""

from django.contrib.auth import get_user_model
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from accounts.models import Team
from cmdb.models import CI
from incidents.api.serializers import BriefIncidentSerializer
from incidents.filters.problems import KnownErrorFilterSet, ProblemFilterSet, with_incident_count
from incidents.models import Category, Incident, KnownError, Problem, ProblemTimelineEntry
from incidents.services import problems as services
from itom.api.serializers import ValidatedModelSerializer
from itom.api.viewsets import PortalModelViewSet

User = get_user_model()


# --- Serializers ------------------------------------------------------------------------------


class ServiceValidatedSerializer(ValidatedModelSerializer):
    """Field checks here; the whole object (``full_clean``, the assignee's team, the state) is
    validated by the service the viewset calls, whose errors become 400s naming the field.
    Fields that have their own action are refused with a pointer to it instead of ignored."""

    own_actions = {}

    def validate(self, attrs):
        data = self.initial_data if isinstance(self.initial_data, dict) else {}
        refused = {name: [reason] for name, reason in self.own_actions.items() if name in data}
        if refused:
            raise serializers.ValidationError(refused)
        return attrs


class ProblemKnownErrorBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = KnownError
        fields = ["id", "number", "title", "active"]


class ProblemSerializer(ServiceValidatedSerializer):
    category = serializers.PrimaryKeyRelatedField(queryset=Category.objects.all(), allow_null=True, required=False)
    assignment_team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), allow_null=True, required=False
    )
    affected_cis = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), many=True, required=False)
    incidents = serializers.ListField(
        child=serializers.CharField(),
        write_only=True,
        required=False,
        help_text="On creation: incidents to link (ids or numbers). Later: the link-incidents action.",
    )
    incident_count = serializers.SerializerMethodField()
    known_errors = ProblemKnownErrorBriefSerializer(many=True, read_only=True)
    allowed_transitions = serializers.SerializerMethodField()
    web_url = serializers.CharField(source="get_absolute_url", read_only=True)

    own_actions = {
        "state": "Change the state with POST …/transition/.",
        "workaround": "Post the workaround with POST …/workaround/: it reaches the open linked incidents.",
    }

    class Meta:
        model = Problem
        fields = [
            "id",
            "number",
            "display",
            "title",
            "description",
            "state",
            "priority",
            "category",
            "assignment_team",
            "assignee",
            "affected_cis",
            "root_cause",
            "workaround",
            "incidents",
            "incident_count",
            "known_errors",
            "allowed_transitions",
            "resolved_at",
            "closed_at",
            "opened_by",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["number", "state", "workaround", "resolved_at", "closed_at", "opened_by"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "incidents" in attrs:
            if self.instance is not None:
                raise serializers.ValidationError({"incidents": ["Link incidents with POST …/link-incidents/."]})
            attrs["incidents"] = services.resolve_incident_refs(attrs["incidents"])
        return attrs

    def get_incident_count(self, problem) -> int:
        count = getattr(problem, "incident_count", None)
        return count if count is not None else problem.incidents.count()

    def get_allowed_transitions(self, problem) -> list[str]:
        return services.allowed_problem_transitions(problem)


class ProblemTransitionSerializer(serializers.Serializer):
    state = serializers.CharField(help_text="new, assess, root_cause_analysis, fix_in_progress, resolved, closed")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ProblemWorkaroundSerializer(serializers.Serializer):
    workaround = serializers.CharField(allow_blank=True, trim_whitespace=True)


class ProblemLinkIncidentsSerializer(serializers.Serializer):
    incidents = serializers.ListField(
        child=serializers.CharField(), allow_empty=True, help_text="Incident ids or numbers (INC0000012)."
    )


class ProblemFromIncidentsSerializer(ProblemLinkIncidentsSerializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ProblemUnlinkIncidentSerializer(serializers.Serializer):
    incident = serializers.CharField(help_text="The incident's id or number.")


class ProblemNoteSerializer(serializers.Serializer):
    body = serializers.CharField(allow_blank=True)


class ProblemTimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = ProblemTimelineEntry
        fields = ["id", "time", "kind", "author", "author_name", "body", "data"]


class KnownErrorSerializer(ServiceValidatedSerializer):
    problem = serializers.PrimaryKeyRelatedField(queryset=Problem.objects.all(), allow_null=True, required=False)
    problem_number = serializers.CharField(source="problem.number", read_only=True, allow_null=True, default=None)
    affected_cis = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), many=True, required=False)
    web_url = serializers.CharField(source="get_absolute_url", read_only=True)

    class Meta:
        model = KnownError
        fields = [
            "id",
            "number",
            "display",
            "title",
            "symptom",
            "root_cause",
            "workaround",
            "affected_cis",
            "active",
            "problem",
            "problem_number",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["number"]


# --- Viewsets ---------------------------------------------------------------------------------


def problem_queryset():
    """Problems with what the serializer shows, in a constant number of queries: the linked
    incidents counted in a subquery, affected CIs and known errors prefetched."""
    return with_incident_count(Problem.objects.all()).prefetch_related(
        Prefetch("affected_cis", queryset=CI.objects.only("pk")),
        Prefetch("known_errors", queryset=KnownError.objects.order_by("pk")),
    )


def _require(user, *permissions):
    missing = [p for p in permissions if not user.has_perm(p)]
    if missing:
        raise PermissionDenied(f"You need the {', '.join(missing)} permission.")


class ProblemViewSet(PortalModelViewSet):
    """Problems: the cause of one or more incidents, investigated until fixed."""

    queryset = Problem.objects.all()
    serializer_class = ProblemSerializer
    filterset_class = ProblemFilterSet
    ordering_fields = ["created_at", "updated_at", "number", "priority", "state", "title", "incident_count"]
    action_permissions = {
        "transition": "change",
        "workaround": "change",
        "link_incidents": "change",
        "unlink_incident": "change",
        "known_error": "change",
        "notes": "change",
        "timeline": "view",
        "incidents": "view",
        "from_incidents": "add",
    }

    def get_queryset(self):
        if self.action in ("timeline", "incidents"):
            return Problem.objects.all()
        return problem_queryset()

    def _answer(self, problem, code=status.HTTP_200_OK):
        fresh = problem_queryset().get(pk=problem.pk)
        return self._with_etag(
            Response(ProblemSerializer(fresh, context=self.get_serializer_context()).data, code), fresh
        )

    # CRUD through the services
    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        if data.get("incidents"):
            _require(self.request.user, "incidents.change_incident")
        serializer.instance = services.create_problem(user=self.request.user, **data)

    def perform_update(self, serializer):
        serializer.instance = self._written = services.update_problem(
            serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_problem(instance, user=self.request.user)

    # Actions
    @extend_schema(request=ProblemTransitionSerializer, responses={200: ProblemSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"])
    def transition(self, request, pk=None):
        """Move the problem to another state (409 with the allowed states when it may not)."""
        params = ProblemTransitionSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        problem = services.transition_problem(
            self.get_object(), params.validated_data["state"], user=request.user, note=params.validated_data["note"]
        )
        return self._answer(problem)

    @extend_schema(request=ProblemWorkaroundSerializer, responses=ProblemSerializer)
    @action(detail=True, methods=["post"])
    def workaround(self, request, pk=None):
        """Record the workaround; it reaches every open linked incident as a work note."""
        params = ProblemWorkaroundSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        problem = services.post_workaround(
            self.get_object(), user=request.user, workaround=params.validated_data["workaround"]
        )
        return self._answer(problem)

    @extend_schema(request=ProblemLinkIncidentsSerializer, responses=ProblemSerializer)
    @action(detail=True, methods=["post"], url_path="link-incidents")
    def link_incidents(self, request, pk=None):
        """Link incidents (ids or numbers); those linked to another open problem are refused."""
        _require(request.user, "incidents.change_incident")
        params = ProblemLinkIncidentsSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        ids = services.resolve_incident_refs(params.validated_data["incidents"])
        problem = self.get_object()
        services.link_incidents(problem, ids, user=request.user)
        return self._answer(problem)

    @extend_schema(request=ProblemUnlinkIncidentSerializer, responses=ProblemSerializer)
    @action(detail=True, methods=["post"], url_path="unlink-incident")
    def unlink_incident(self, request, pk=None):
        """Take one incident off the problem."""
        _require(request.user, "incidents.change_incident")
        params = ProblemUnlinkIncidentSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        ids = services.resolve_incident_refs([params.validated_data["incident"]], field="incident")
        problem = self.get_object()
        incident = Incident.objects.filter(pk=ids[0]).first()
        if incident is None:
            raise serializers.ValidationError({"incident": [f"No incident with id {ids[0]}."]})
        services.unlink_incident(problem, incident, user=request.user)
        return self._answer(problem)

    @extend_schema(request=None, responses={201: KnownErrorSerializer, 409: OpenApiResponse()})
    @action(detail=True, methods=["post"], url_path="known-error")
    def known_error(self, request, pk=None):
        """Record the problem as a known error (needs its root cause; one active per problem)."""
        _require(request.user, "incidents.add_knownerror")
        known_error = services.known_error_from_problem(self.get_object(), user=request.user)
        data = KnownErrorSerializer(known_error, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ProblemNoteSerializer, responses={201: ProblemTimelineEntrySerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request, pk=None):
        """Add a note to the problem's timeline."""
        params = ProblemNoteSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        entry = services.add_problem_note(self.get_object(), user=request.user, body=params.validated_data["body"])
        return Response(ProblemTimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=ProblemTimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def timeline(self, request, pk=None):
        """The problem's timeline, oldest first: notes, state changes, workarounds, links."""
        entries = self.get_object().timeline.order_by("time", "pk")
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(ProblemTimelineEntrySerializer(page, many=True).data)

    @extend_schema(responses=BriefIncidentSerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[])
    def incidents(self, request, pk=None):
        """The incidents linked to the problem, most urgent first."""
        linked = Incident.objects.filter(problem=self.get_object()).order_by("priority", "-created_at", "pk")
        page = self.paginate_queryset(linked)
        return self.get_paginated_response(BriefIncidentSerializer(page, many=True).data)

    @extend_schema(request=ProblemFromIncidentsSerializer, responses={201: ProblemSerializer})
    @action(detail=False, methods=["post"], url_path="from-incidents", filter_backends=[])
    def from_incidents(self, request):
        """Open a problem for the given incidents (ids or numbers) and link them to it: the most
        urgent incident's title (unless ``title`` is given), team and category, the highest
        priority, all their affected CIs."""
        _require(request.user, "incidents.change_incident")
        params = ProblemFromIncidentsSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        ids = services.resolve_incident_refs(params.validated_data["incidents"])
        problem = services.problem_from_incidents(ids, user=request.user, title=params.validated_data.get("title"))
        return self._answer(problem, status.HTTP_201_CREATED)


class KnownErrorViewSet(PortalModelViewSet):
    """Known errors: symptoms with their root cause and workaround, matched against incidents."""

    queryset = KnownError.objects.select_related("problem").prefetch_related(
        Prefetch("affected_cis", queryset=CI.objects.only("pk"))
    )
    serializer_class = KnownErrorSerializer
    filterset_class = KnownErrorFilterSet
    ordering_fields = ["created_at", "updated_at", "number", "title"]

    def perform_create(self, serializer):
        serializer.instance = services.create_known_error(user=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = self._written = services.update_known_error(
            serializer.instance, user=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.delete_known_error(instance, user=self.request.user)
