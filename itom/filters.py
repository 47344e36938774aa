"""The FilterSet base shared by UI lists and API lists: ``?q=`` search and ``?id=`` filters."""

from functools import reduce
from operator import or_

import django_filters
from django.db.models import Q


class NumberInFilter(django_filters.BaseInFilter, django_filters.NumberFilter):
    """``?id=1,2,3``: numbers, comma-separated."""


class BaseFilterSet(django_filters.FilterSet):
    """Subclasses set ``search_fields`` (lookups OR-ed together for ``q``)."""

    search_fields = ()

    q = django_filters.CharFilter(method="search", label="Search")
    id = NumberInFilter(field_name="id", label="IDs (comma-separated)")

    def search(self, queryset, name, value):
        value = value.strip()
        if not value or not self.search_fields:
            return queryset
        return queryset.filter(reduce(or_, (Q(**{f"{field}__icontains": value}) for field in self.search_fields)))


class ObjectChangeFilterSet(BaseFilterSet):
    """Audit filters: ``object_type=accounts.team``, ``object_id``, ``user``, ``time_after``…"""

    search_fields = ("object_repr", "user_name")
    object_type = django_filters.CharFilter(method="filter_object_type", label="Object type (app_label.model)")
    time = django_filters.IsoDateTimeFromToRangeFilter()
    user_name = django_filters.CharFilter()

    class Meta:
        from itom.models import ObjectChange

        model = ObjectChange
        fields = ["id", "action", "object_id", "user", "user_name", "request_id"]

    def filter_object_type(self, queryset, name, value):
        app_label, _, model = value.lower().partition(".")
        return queryset.filter(content_type__app_label=app_label, content_type__model=model)
