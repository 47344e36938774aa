"""FilterSets shared by the CMDB's UI lists and API lists."""

import django_filters
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from accounts.models import Team
from cmdb.choices import Criticality, Environment, Status
from cmdb.models import CI, CIClass, Relationship, RelationshipType, Tag
from itom.filters import BaseFilterSet


class CIFilterSet(BaseFilterSet):
    """``ci_class`` matches the class and its subclasses (``?ci_class=<Server>`` finds Linux
    servers too); ``status``, ``environment``, ``criticality``, ``owner_team`` and ``tag`` take
    several values (``?status=active&status=maintenance``)."""

    search_fields = ("name", "fqdn", "serial_number", "asset_tag", "external_id", "ip_addresses", "location")

    ci_class = django_filters.ModelChoiceFilter(
        queryset=CIClass.objects.all(), method="filter_class", label="Class (and subclasses)"
    )
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    environment = django_filters.MultipleChoiceFilter(choices=Environment.choices)
    criticality = django_filters.MultipleChoiceFilter(choices=Criticality.choices)
    owner_team = django_filters.ModelMultipleChoiceFilter(queryset=Team.objects.all(), label="Owner team")
    # Tag names: the OpenAPI generator can't infer the type through ``tags__name`` + ``to_field_name``.
    tag = extend_schema_field(OpenApiTypes.STR)(
        django_filters.ModelMultipleChoiceFilter(
            field_name="tags__name", to_field_name="name", queryset=Tag.objects.all(), label="Tag"
        )
    )
    ip = django_filters.CharFilter(field_name="ip_addresses", lookup_expr="icontains", label="IP address")
    fqdn = django_filters.CharFilter(lookup_expr="iexact", label="FQDN")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = CI
        fields = [
            "id",
            "name",
            "ci_class",
            "status",
            "environment",
            "criticality",
            "owner_team",
            "tag",
            "ip",
            "fqdn",
            "serial_number",
            "asset_tag",
            "external_id",
        ]

    def filter_class(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(ci_class_id__in=CIClass.objects.descendant_ids(value.pk))


class CIClassFilterSet(BaseFilterSet):
    search_fields = ("name", "slug", "description")

    class Meta:
        model = CIClass
        fields = ["id", "name", "slug", "parent", "is_business_service"]


class RelationshipTypeFilterSet(BaseFilterSet):
    search_fields = ("slug", "forward_label", "reverse_label", "description")

    class Meta:
        model = RelationshipType
        fields = ["id", "slug", "propagates_failure"]


class RelationshipFilterSet(BaseFilterSet):
    """``ci`` matches either end of a relationship."""

    search_fields = ("source__name", "target__name", "description")
    ci = django_filters.NumberFilter(method="filter_ci", label="CI (either end)")
    type = django_filters.ModelChoiceFilter(
        queryset=RelationshipType.objects.all(), to_field_name="slug", label="Type (slug)"
    )

    class Meta:
        model = Relationship
        fields = ["id", "source", "target", "type", "ci"]

    def filter_ci(self, queryset, name, value):
        return queryset.filter(Q(source_id=value) | Q(target_id=value))


class TagFilterSet(BaseFilterSet):
    search_fields = ("name", "description")

    class Meta:
        model = Tag
        fields = ["id", "name"]
