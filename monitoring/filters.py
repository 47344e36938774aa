"""The FilterSets of the monitoring lists, shared by the pages and ``/api/v1/monitoring/…``.

- zones: ``q`` (name, description);
- checks: ``q`` (name, target, CI name), ``ci``, ``kind``, ``state``, ``state_type``, ``zone``
  (name or id), ``severity`` (several values each), ``enabled``, ``flapping``, ``problem`` (a
  problem state: down, unknown, warning, unreachable);
- check results: ``status`` (several), ``since`` / ``until`` (ISO date-times: ``since`` ≤ at <
  ``until``);
- alerts: ``q`` (name, summary, fingerprint, CI name), ``status``, ``severity``, ``source`` (several
  each), ``ci``, ``check``, ``fingerprint`` (exact), ``integration``, ``rule``, ``incident``,
  ``suppressed`` (true: suppressed by anything), ``last_seen_after`` / ``last_seen_before``;
- maintenance windows: ``q`` (name, reason), ``recurrence``, ``active``, ``ci`` (lists the CI),
  ``start_after`` / ``start_before``;
- integrations: ``q`` (name), ``kind``, ``enabled``;
- metric rules: ``q`` (name, metric), ``kind``, ``metric`` (exact), ``ci``, ``severity``, ``enabled``;
- metric samples: ``ci`` (id), ``name`` (exact), ``since`` / ``until`` (``since`` ≤ time < ``until``).
"""

import django_filters
from django.db.models import Q

from cmdb.models import CI
from itom.filters import BaseFilterSet
from monitoring.choices import (
    PROBLEM_STATES,
    AlertSource,
    AlertStatus,
    CheckKind,
    CheckState,
    IntegrationKind,
    Recurrence,
    ResultStatus,
    RuleKind,
    Severity,
    StateType,
    Suppression,
)
from monitoring.models import (
    Alert,
    Check,
    CheckResult,
    Integration,
    MaintenanceWindow,
    MetricRule,
    MetricSample,
    Zone,
)


class ValuesFilter(django_filters.BaseInFilter, django_filters.CharFilter):
    """``?zone=default,dmz`` or ``?zone=3``: names or ids, comma-separated."""


class ZoneFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Zone
        fields = ["id", "q", "name"]


class CheckFilterSet(BaseFilterSet):
    search_fields = ("name", "target", "ci__name")

    ci = django_filters.ModelMultipleChoiceFilter(queryset=CI.objects.all(), label="CI")
    kind = django_filters.MultipleChoiceFilter(choices=CheckKind.choices)
    state = django_filters.MultipleChoiceFilter(choices=CheckState.choices)
    state_type = django_filters.ChoiceFilter(choices=StateType.choices)
    zone = ValuesFilter(method="filter_zone", label="Zone (names or ids, comma-separated)")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    problem = django_filters.BooleanFilter(method="filter_problem", label="In a problem state")

    class Meta:
        model = Check
        fields = ["id", "q", "ci", "kind", "state", "state_type", "zone", "severity", "enabled", "flapping", "problem"]

    def filter_zone(self, queryset, name, value):
        values = [str(v).strip() for v in value or [] if str(v).strip()]
        if not values:
            return queryset
        ids = [int(v) for v in values if v.isdigit()]
        names = [v for v in values if not v.isdigit()]
        return queryset.filter(Q(zone_id__in=ids) | Q(zone__name__in=names))

    def filter_problem(self, queryset, name, value):
        if value is None:
            return queryset
        problem = Q(state__in=PROBLEM_STATES)
        return queryset.filter(problem if value else ~problem)


class CheckResultFilterSet(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ResultStatus.choices)
    since = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte", label="At or after")
    until = django_filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt", label="Before")

    class Meta:
        model = CheckResult
        fields = ["status", "since", "until"]


class AlertFilterSet(BaseFilterSet):
    search_fields = ("name", "summary", "fingerprint", "ci__name")

    status = django_filters.MultipleChoiceFilter(choices=AlertStatus.choices)
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)
    source = django_filters.MultipleChoiceFilter(choices=AlertSource.choices)
    ci = django_filters.ModelMultipleChoiceFilter(queryset=CI.objects.all(), label="CI")
    check = django_filters.ModelMultipleChoiceFilter(field_name="monitor", queryset=Check.objects.all(), label="Check")
    fingerprint = django_filters.CharFilter()
    integration = django_filters.ModelChoiceFilter(queryset=Integration.objects.all())
    rule = django_filters.ModelChoiceFilter(queryset=MetricRule.objects.all())
    incident = django_filters.NumberFilter(field_name="incident", label="Incident (id)")
    suppressed = django_filters.BooleanFilter(method="filter_suppressed", label="Suppressed (no incident of its own)")
    suppression = django_filters.ChoiceFilter(
        field_name="suppressed", choices=[c for c in Suppression.choices if c[0]], label="Suppressed by"
    )
    last_seen = django_filters.IsoDateTimeFromToRangeFilter()

    class Meta:
        model = Alert
        fields = [
            "id",
            "q",
            "status",
            "severity",
            "source",
            "ci",
            "check",
            "fingerprint",
            "integration",
            "rule",
            "incident",
            "suppressed",
            "suppression",
            "last_seen",
        ]

    def filter_suppressed(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.exclude(suppressed="") if value else queryset.filter(suppressed="")


class MaintenanceWindowFilterSet(BaseFilterSet):
    search_fields = ("name", "reason")

    recurrence = django_filters.ChoiceFilter(choices=Recurrence.choices)
    ci = django_filters.NumberFilter(field_name="cis", label="Lists the CI (id)", distinct=True)
    start = django_filters.IsoDateTimeFromToRangeFilter()

    class Meta:
        model = MaintenanceWindow
        fields = ["id", "q", "recurrence", "active", "ci", "start"]


class IntegrationFilterSet(BaseFilterSet):
    search_fields = ("name",)

    kind = django_filters.MultipleChoiceFilter(choices=IntegrationKind.choices)

    class Meta:
        model = Integration
        fields = ["id", "q", "kind", "enabled"]


class MetricRuleFilterSet(BaseFilterSet):
    search_fields = ("name", "metric")

    kind = django_filters.ChoiceFilter(choices=RuleKind.choices)
    ci = django_filters.ModelMultipleChoiceFilter(queryset=CI.objects.all(), label="CI")
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices)

    class Meta:
        model = MetricRule
        fields = ["id", "q", "kind", "metric", "ci", "severity", "enabled"]


class MetricSampleFilterSet(django_filters.FilterSet):
    ci = django_filters.NumberFilter(field_name="ci", label="CI (id)")
    name = django_filters.CharFilter(label="Metric name")
    since = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="gte", label="At or after")
    until = django_filters.IsoDateTimeFilter(field_name="time", lookup_expr="lt", label="Before")

    class Meta:
        model = MetricSample
        fields = ["ci", "name", "since", "until"]
