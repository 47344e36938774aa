"""The FilterSets of the change lists, shared by the pages and ``/api/v1/changes/…``.

``queue`` gives the change list's tabs their meaning, the same in the UI and the API:

- ``mine``: open changes the requesting user is assigned to or requested;
- ``team``: open changes assigned to one of the requesting user's teams;
- ``approvals``: changes with a stage awaiting the requesting user's decision now
  (``changes.services.approvals.pending_for``: not their own changes, not decided by them yet);
- ``scheduled``: changes in ``scheduled`` (approved, waiting for their window);
- ``open``: every open change (new … review);
- ``all``: every change, closed and canceled included.
"""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts.models import Team
from changes.choices import OPEN_STATES, ChangeState, ChangeType, RiskLevel, TemplateState
from changes.models import BlackoutWindow, ChangeRequest, StandardChangeTemplate
from cmdb.choices import Environment
from cmdb.models import CIClass
from incidents.models import Category
from itom.filters import BaseFilterSet

QUEUES = (
    ("mine", "My changes"),
    ("team", "My team's"),
    ("approvals", "Awaiting my approval"),
    ("scheduled", "Scheduled"),
    ("open", "All open"),
    ("all", "All"),
)


def queue(queryset, name, user):
    """``queryset`` narrowed to the queue ``name`` for ``user`` (see the module docstring)."""
    signed_in = user is not None and user.is_authenticated
    opened = queryset.filter(state__in=OPEN_STATES)
    if name == "mine":
        return opened.filter(Q(assignee=user) | Q(requester=user)) if signed_in else opened.none()
    if name == "team":
        if not signed_in:
            return opened.none()
        teams = Team.members.through.objects.filter(user_id=user.pk).values("team_id")
        return opened.filter(assignment_team_id__in=teams)
    if name == "approvals":
        if not signed_in:
            return queryset.none()
        from changes.services import approvals

        return queryset.filter(pk__in=approvals.pending_for(user).values("change_id"))
    if name == "scheduled":
        return queryset.filter(state=ChangeState.SCHEDULED)
    if name == "open":
        return opened
    if name == "all":
        return queryset
    raise ValueError(f"unknown queue {name!r}")


class ChangeFilterSet(BaseFilterSet):
    """``state``, ``type``, ``risk``, ``assignment_team``, ``assignee``, ``requester`` and
    ``category`` take several values (``?state=new&state=assess``); ``risk`` matches the effective
    level (a manager's override, else the computed one); ``ci`` matches changes touching the CI
    directly or through their impact set; ``planned_start_after``/``_before`` and
    ``planned_end_after``/``_before`` are ISO date-times; ``open=true`` keeps new … review;
    ``queue`` as described in the module docstring."""

    search_fields = ("number", "title", "description")

    queue = django_filters.ChoiceFilter(choices=QUEUES, method="filter_queue", label="Queue")
    state = django_filters.MultipleChoiceFilter(choices=ChangeState.choices)
    open = django_filters.BooleanFilter(method="filter_open", label="Open (new … review)")
    type = django_filters.MultipleChoiceFilter(choices=ChangeType.choices)
    risk = django_filters.MultipleChoiceFilter(
        choices=RiskLevel.choices, method="filter_risk", label="Risk (effective level)"
    )
    assignment_team = django_filters.ModelMultipleChoiceFilter(queryset=Team.objects.all(), label="Team")
    assignee = django_filters.ModelMultipleChoiceFilter(queryset=get_user_model().objects.all(), label="Assignee")
    requester = django_filters.ModelMultipleChoiceFilter(queryset=get_user_model().objects.all(), label="Requester")
    category = django_filters.ModelMultipleChoiceFilter(queryset=Category.objects.all())
    ci = django_filters.NumberFilter(method="filter_ci", label="Affected or impacted CI (id)")
    service = django_filters.NumberFilter(
        field_name="impacted_services", label="Impacted business service (id)", distinct=True
    )
    template = django_filters.ModelChoiceFilter(queryset=StandardChangeTemplate.objects.all())
    incident = django_filters.NumberFilter(field_name="incidents", label="Linked incident (id)", distinct=True)
    planned_start = django_filters.IsoDateTimeFromToRangeFilter()
    planned_end = django_filters.IsoDateTimeFromToRangeFilter()
    created = django_filters.IsoDateTimeFromToRangeFilter(field_name="created_at")

    class Meta:
        model = ChangeRequest
        fields = [
            "id",
            "q",
            "queue",
            "state",
            "open",
            "type",
            "risk",
            "assignment_team",
            "assignee",
            "requester",
            "category",
            "ci",
            "service",
            "template",
            "incident",
            "planned_start",
            "planned_end",
            "created",
        ]

    def filter_queue(self, queryset, name, value):
        if not value:
            return queryset
        return queue(queryset, value, getattr(self.request, "user", None))

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        opened = Q(state__in=OPEN_STATES)
        return queryset.filter(opened if value else ~opened)

    def filter_risk(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(Q(risk_override__in=value) | Q(risk_override="", risk_level__in=value))

    def filter_ci(self, queryset, name, value):
        if value is None:
            return queryset
        through_affected = ChangeRequest.affected_cis.through.objects.filter(ci_id=value).values("changerequest_id")
        through_impacted = ChangeRequest.impacted_cis.through.objects.filter(ci_id=value).values("changerequest_id")
        return queryset.filter(Q(pk__in=through_affected) | Q(pk__in=through_impacted))


class BlackoutWindowFilterSet(BaseFilterSet):
    """``start``/``end`` ranges (``start_after`` …); ``during_after``/``during_before`` keep the
    windows overlapping that period; ``environment``, ``ci_class``, ``service`` the scoped ones."""

    search_fields = ("name", "reason")

    environment = django_filters.MultipleChoiceFilter(choices=Environment.choices)
    ci_class = django_filters.ModelChoiceFilter(queryset=CIClass.objects.all(), field_name="ci_classes")
    service = django_filters.NumberFilter(field_name="business_services", label="Business service (id)")
    start = django_filters.IsoDateTimeFromToRangeFilter()
    end = django_filters.IsoDateTimeFromToRangeFilter()
    during = django_filters.IsoDateTimeFromToRangeFilter(method="filter_during", label="Overlapping the period")

    class Meta:
        model = BlackoutWindow
        fields = ["id", "q", "active", "environment", "ci_class", "service", "start", "end", "during"]

    def filter_during(self, queryset, name, value):
        if value is None:
            return queryset
        if value.start is not None:
            queryset = queryset.filter(end__gt=value.start)
        if value.stop is not None:
            queryset = queryset.filter(start__lt=value.stop)
        return queryset


class TemplateFilterSet(BaseFilterSet):
    """``state`` several values (``?state=approved`` is the catalogue); ``key`` every version of a
    template; ``risk_level``, ``assignment_team``, ``category``; ``ci_class`` templates for that
    class (and those for any class)."""

    search_fields = ("name", "description", "key")

    state = django_filters.MultipleChoiceFilter(choices=TemplateState.choices)
    risk_level = django_filters.MultipleChoiceFilter(choices=RiskLevel.choices)
    assignment_team = django_filters.ModelMultipleChoiceFilter(queryset=Team.objects.all(), label="Team")
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all())
    ci_class = django_filters.ModelChoiceFilter(
        queryset=CIClass.objects.all(), field_name="ci_classes", method="filter_ci_class", label="Applies to CI class"
    )

    class Meta:
        model = StandardChangeTemplate
        fields = ["id", "q", "key", "state", "risk_level", "assignment_team", "category", "ci_class"]

    def filter_ci_class(self, queryset, name, value):
        if value is None:
            return queryset
        through = StandardChangeTemplate.ci_classes.through
        any_class = ~Q(pk__in=through.objects.values("standardchangetemplate_id"))
        ancestors = value.ancestor_ids()  # a template for Server applies to a Linux server
        chosen = Q(pk__in=through.objects.filter(ciclass_id__in=ancestors).values("standardchangetemplate_id"))
        return queryset.filter(any_class | chosen)
