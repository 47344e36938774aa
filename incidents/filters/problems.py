"""FilterSets of the problem and known-error lists, shared by the pages and the API."""

from functools import reduce
from operator import and_, or_

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import Team
from incidents.choices import OPEN_PROBLEM_STATES, Priority, ProblemState
from incidents.models import Category, Incident, KnownError, Problem
from itom.filters import BaseFilterSet

MAX_SEARCH_WORDS = 8


def with_incident_count(queryset):
    """Problems annotated with ``incident_count`` (their linked incidents), counted in a
    subquery per row: the lists (UI and API) show and sort by it at a constant query count."""
    counts = (
        Incident.objects.filter(problem=OuterRef("pk")).order_by().values("problem").annotate(n=Count("pk")).values("n")
    )
    return queryset.annotate(incident_count=Coalesce(Subquery(counts, output_field=IntegerField()), Value(0)))


def words_search(queryset, fields, value):
    """Every word of ``value`` must appear (case-insensitively) in one of ``fields``: "502
    restart" finds a known error whose symptom says 502 and whose workaround says restart."""
    words = value.split()[:MAX_SEARCH_WORDS]
    if not words:
        return queryset
    return queryset.filter(
        reduce(and_, (reduce(or_, (Q(**{f"{field}__icontains": word}) for field in fields)) for word in words))
    )


class ProblemFilterSet(BaseFilterSet):
    """``open=true`` keeps problems not yet resolved or closed; ``ci`` problems affecting a CI;
    ``incident`` the problem an incident is linked to; ``state``, ``priority``, ``assignment_team``
    and ``assignee`` take several values."""

    search_fields = ("number", "title", "description", "root_cause", "workaround")

    state = django_filters.MultipleChoiceFilter(choices=ProblemState.choices)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices)
    open = django_filters.BooleanFilter(
        method="filter_open",
        label="Open",
        widget=forms.Select(choices=[("", "Any"), ("true", "Open"), ("false", "Resolved or closed")]),
    )
    assignment_team = django_filters.ModelMultipleChoiceFilter(queryset=Team.objects.all(), label="Team")
    assignee = django_filters.ModelMultipleChoiceFilter(queryset=get_user_model().objects.all(), label="Assignee")
    category = django_filters.ModelChoiceFilter(queryset=Category.objects.all())
    ci = django_filters.NumberFilter(field_name="affected_cis", label="Affected CI (id)", distinct=True)
    incident = django_filters.NumberFilter(field_name="incidents", label="Linked incident (id)", distinct=True)

    class Meta:
        model = Problem
        fields = ["id", "q", "state", "open", "priority", "assignment_team", "assignee", "category", "ci", "incident"]

    def search(self, queryset, name, value):
        return words_search(queryset, self.search_fields, value)

    def filter_open(self, queryset, name, value):
        if value is None:
            return queryset
        opened = Q(state__in=OPEN_PROBLEM_STATES)
        return queryset.filter(opened if value else ~opened)


class KnownErrorFilterSet(BaseFilterSet):
    """``q`` matches every word against the title, symptom, root cause and workaround (and the
    number); ``ci`` known errors of a CI; ``active=false`` the retired ones."""

    search_fields = ("number", "title", "symptom", "root_cause", "workaround")

    ci = django_filters.NumberFilter(field_name="affected_cis", label="Affected CI (id)", distinct=True)
    active = django_filters.BooleanFilter(
        widget=forms.Select(choices=[("", "Any"), ("true", "Active"), ("false", "Retired")])
    )
    problem = django_filters.NumberFilter(field_name="problem", label="Problem (id)")

    class Meta:
        model = KnownError
        fields = ["id", "q", "active", "ci", "problem"]

    def search(self, queryset, name, value):
        return words_search(queryset, self.search_fields, value)
