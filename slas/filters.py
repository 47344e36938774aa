"""FilterSets shared by the SLA pages and the API lists."""

import django_filters

from accounts.models import Team
from itom.filters import BaseFilterSet
from slas.models import BusinessCalendar, SLAPolicy


class CalendarFilterSet(BaseFilterSet):
    search_fields = ("name", "description", "time_zone")

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "time_zone", "always_open"]


class PolicyFilterSet(BaseFilterSet):
    """``priority`` matches policies that apply to that priority (listed, or all priorities)."""

    search_fields = ("name", "description")
    calendar = django_filters.ModelChoiceFilter(queryset=BusinessCalendar.objects.all())
    team = django_filters.ModelChoiceFilter(field_name="teams", queryset=Team.objects.all(), label="Team")
    priority = django_filters.ChoiceFilter(
        choices=[(p, f"P{p}") for p in range(1, 6)], method="filter_priority", label="Applies to priority"
    )

    class Meta:
        model = SLAPolicy
        fields = ["id", "name", "active", "calendar", "team", "priority"]

    def filter_priority(self, queryset, name, value):
        priority = int(value)
        rows = queryset.values_list("pk", "priorities")
        matching = [pk for pk, priorities in rows if not priorities or priority in priorities]
        return queryset.filter(pk__in=matching)


class PolicyPageFilterSet(PolicyFilterSet):
    """The policy page's filters: the API's, less the team (policies number in the tens; a team
    list would cost the page a query of its own)."""

    class Meta(PolicyFilterSet.Meta):
        fields = ["id", "name", "active", "calendar", "priority"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters.pop("team", None)
