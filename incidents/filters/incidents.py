"""The incident FilterSet, shared by the queue page and ``/api/v1/incidents/``.

``queue`` gives the queue tabs their meaning, the same in the UI and the API; every queue holds
open incidents only (new, in progress, on hold):

- ``mine``: assigned to the requesting user;
- ``my_teams``: assigned to one of the requesting user's teams;
- ``unassigned``: nobody assigned yet;
- ``breaching``: an SLA clock is running with a warning issued or due within the hour, or has
  breached (``incidents.selectors.breaching``);
- ``open``: every open incident.
"""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q

from accounts.models import Team
from incidents import selectors
from incidents.choices import OPEN_STATES, HoldReason, Impact, IncidentState, Priority, Source, Urgency
from incidents.models import Category, Incident, PriorityRule
from itom.filters import BaseFilterSet

QUEUES = (
    ("mine", "My work"),
    ("my_teams", "My team's"),
    ("unassigned", "Unassigned"),
    ("breaching", "Breaching soon"),
    ("open", "All open"),
)


class IncidentFilterSet(BaseFilterSet):
    """``state``, ``priority``, ``impact``, ``urgency``, ``source``, ``assignment_team``,
    ``assignee`` and ``category`` take several values (``?priority=1&priority=2``); ``ci``
    matches incidents affecting the CI directly or through it as a business service;
    ``open=true`` keeps new, in-progress and on-hold incidents; ``queue`` as described above."""

    search_fields = ("number", "title", "description", "caller_contact")

    queue = django_filters.ChoiceFilter(choices=QUEUES, method="filter_queue", label="Queue")
    state = django_filters.MultipleChoiceFilter(choices=IncidentState.choices)
    open = django_filters.BooleanFilter(method="filter_open", label="Open (new, in progress, on hold)")
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    impact = django_filters.MultipleChoiceFilter(choices=Impact.choices)
    urgency = django_filters.MultipleChoiceFilter(choices=Urgency.choices)
    source = django_filters.MultipleChoiceFilter(choices=Source.choices)
    hold_reason = django_filters.MultipleChoiceFilter(choices=HoldReason.choices)
    assignment_team = django_filters.ModelMultipleChoiceFilter(queryset=Team.objects.all(), label="Team")
    assignee = django_filters.ModelMultipleChoiceFilter(queryset=get_user_model().objects.all(), label="Assignee")
    unassigned = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull", label="No assignee")
    category = django_filters.ModelMultipleChoiceFilter(queryset=Category.objects.all())
    caller = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.all())
    is_major = django_filters.BooleanFilter(label="Major incident")
    parent = django_filters.NumberFilter(field_name="parent", label="Parent major incident (id)")
    problem = django_filters.NumberFilter(field_name="problem", label="Problem (id)")
    ci = django_filters.NumberFilter(method="filter_ci", label="Affected CI or business service (id)")
    service = django_filters.NumberFilter(
        field_name="affected_services", label="Affected business service (id)", distinct=True
    )
    created = django_filters.IsoDateTimeFromToRangeFilter(field_name="created_at")
    updated = django_filters.IsoDateTimeFromToRangeFilter(field_name="updated_at")
    resolved = django_filters.IsoDateTimeFromToRangeFilter(field_name="resolved_at")

    class Meta:
        model = Incident
        fields = [
            "id",
            "q",
            "queue",
            "state",
            "open",
            "priority",
            "impact",
            "urgency",
            "source",
            "hold_reason",
            "assignment_team",
            "assignee",
            "unassigned",
            "category",
            "caller",
            "is_major",
            "parent",
            "problem",
            "ci",
            "service",
            "created",
            "updated",
            "resolved",
        ]

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        opened = Q(state__in=OPEN_STATES)
        return queryset.filter(opened if value else ~opened)

    def filter_ci(self, queryset, name, value):
        if value is None:
            return queryset
        through_cis = Incident.affected_cis.through.objects.filter(ci_id=value).values("incident_id")
        through_services = Incident.affected_services.through.objects.filter(ci_id=value).values("incident_id")
        return queryset.filter(Q(pk__in=through_cis) | Q(pk__in=through_services))

    def filter_queue(self, queryset, name, value):
        if not value:
            return queryset
        return queue(queryset, value, getattr(self.request, "user", None))


def queue(queryset, name, user):
    """``queryset`` narrowed to the queue ``name`` for ``user`` (see the module docstring)."""
    opened = queryset.filter(state__in=OPEN_STATES)
    signed_in = user is not None and user.is_authenticated
    if name == "mine":
        return opened.filter(assignee=user) if signed_in else opened.none()
    if name == "my_teams":
        if not signed_in:
            return opened.none()
        teams = Team.members.through.objects.filter(user_id=user.pk).values("team_id")
        return opened.filter(assignment_team_id__in=teams)
    if name == "unassigned":
        return opened.filter(assignee__isnull=True)
    if name == "breaching":
        return selectors.breaching(opened)
    if name == "open":
        return opened
    raise ValueError(f"unknown queue {name!r}")


class CategoryFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Category
        fields = ["id", "q", "name", "active"]


class PriorityRuleFilterSet(BaseFilterSet):
    """``q`` matches the priority's label (``critical``) or number."""

    class Meta:
        model = PriorityRule
        fields = ["id", "q", "impact", "urgency", "priority"]

    def search(self, queryset, name, value):
        value = value.strip().lower()
        if not value:
            return queryset
        matching = [p for p, label in Priority.choices if value in label.lower()]
        return queryset.filter(priority__in=matching)
