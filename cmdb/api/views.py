"""The CMDB's REST resources: classes, relationship types, tags, CIs (with impact analysis) and
relationships. Thin viewsets: every write goes through ``cmdb.services``."""

from django.db.models import Case, CharField, Count, F, Q, Value, When
from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from cmdb import selectors, services
from cmdb.api.serializers import (
    CIClassSerializer,
    CIRelationshipSerializer,
    CISerializer,
    ImpactQuerySerializer,
    ImpactSerializer,
    RelationshipSerializer,
    RelationshipTypeSerializer,
    TagSerializer,
)
from cmdb.filters import CIClassFilterSet, CIFilterSet, RelationshipFilterSet, RelationshipTypeFilterSet, TagFilterSet
from cmdb.models import CI, CIClass, Relationship, RelationshipType, Tag
from itom.api.viewsets import PortalModelViewSet


def _assign(instance, data):
    for name, value in data.items():
        setattr(instance, name, value)
    return instance


class ServiceWritesMixin:
    """``perform_create``/``perform_update`` hand the validated data to ``service_save(instance, data)``,
    which calls the service; ``perform_destroy`` calls ``service_delete(instance)``."""

    def service_save(self, instance, data):
        raise NotImplementedError

    def service_delete(self, instance):
        raise NotImplementedError

    def perform_create(self, serializer):
        serializer.instance = self.service_save(self.get_queryset().model(), dict(serializer.validated_data))

    def perform_update(self, serializer):
        serializer.instance = self._written = self.service_save(serializer.instance, dict(serializer.validated_data))

    def perform_destroy(self, instance):
        self.service_delete(instance)


class CIClassViewSet(ServiceWritesMixin, PortalModelViewSet):
    """CI classes and their attribute schemas. Writing ``attributes`` replaces the class's own
    schema; ``effective_attributes`` shows what applies, inherited attributes included."""

    queryset = CIClass.objects.prefetch_related("attribute_definitions")
    serializer_class = CIClassSerializer
    filterset_class = CIClassFilterSet
    ordering_fields = ["name", "slug", "created_at", "updated_at"]

    def service_save(self, instance, data):
        attributes = data.pop("attribute_definitions", None)
        return services.save_class(_assign(instance, data), attributes=attributes)

    def service_delete(self, instance):
        services.delete_class(instance)


class RelationshipTypeViewSet(ServiceWritesMixin, PortalModelViewSet):
    queryset = RelationshipType.objects.all()
    serializer_class = RelationshipTypeSerializer
    filterset_class = RelationshipTypeFilterSet
    ordering_fields = ["forward_label", "slug", "created_at", "updated_at"]

    def service_save(self, instance, data):
        return services.save_relationship_type(_assign(instance, data))

    def service_delete(self, instance):
        services.delete_relationship_type(instance)


class TagViewSet(ServiceWritesMixin, PortalModelViewSet):
    queryset = Tag.objects.annotate(ci_count=Count("cis")).order_by("name")
    serializer_class = TagSerializer
    filterset_class = TagFilterSet
    ordering_fields = ["name", "ci_count", "created_at", "updated_at"]

    def service_save(self, instance, data):
        return services.save_tag(_assign(instance, data))

    def service_delete(self, instance):
        services.delete_tag(instance)


class CIViewSet(ServiceWritesMixin, PortalModelViewSet):
    """Configuration items. ``?ci_class=`` matches subclasses too; ``tags`` are names (unknown
    ones are created); ``attributes`` are validated against the class's schema."""

    queryset = CI.objects.select_related("ci_class", "owner_team").prefetch_related("tags")
    serializer_class = CISerializer
    filterset_class = CIFilterSet
    ordering_fields = ["name", "status", "environment", "criticality", "ci_class__name", "created_at", "updated_at"]
    action_permissions = {"impact": "view", "relationships": "view"}

    def get_queryset(self):
        if self.action in ("impact", "relationships"):
            return CI.objects.all()  # the CI itself is all these need: one query
        return super().get_queryset()

    def service_save(self, instance, data):
        tags = data.pop("tags", None)
        return services.save_ci(_assign(instance, data), tags=tags)

    def service_delete(self, instance):
        services.delete_ci(instance)

    @extend_schema(
        parameters=[ImpactQuerySerializer],
        responses=ImpactSerializer,
        summary="Impact analysis",
        description="Downstream: what is affected when this CI fails; upstream: what it needs. Each "
        "CI once, at its shortest depth, with one shortest path; business services listed apart. "
        "One recursive query whatever the size of the graph.",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def impact(self, request, pk=None):
        params = ImpactQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        ci = self.get_object()
        result = selectors.impact(ci, params.validated_data["direction"], params.validated_data["depth"])
        return Response(ImpactSerializer(result, context=self.get_serializer_context()).data)

    @extend_schema(
        responses=CIRelationshipSerializer(many=True),
        summary="The CI's relationships, both directions",
        description="Outgoing (this CI is the source) first, then incoming; each labelled as read "
        "from this CI (“runs on”, “hosts”).",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def relationships(self, request, pk=None):
        ci = self.get_object()
        outgoing = Q(source_id=ci.pk)
        relationships = (
            Relationship.objects.filter(outgoing | Q(target_id=ci.pk))
            .select_related("type", "source__ci_class", "target__ci_class")
            .annotate(
                direction=Case(
                    When(outgoing, then=Value("outgoing")), default=Value("incoming"), output_field=CharField()
                ),
                other_name=Case(When(outgoing, then=F("target__name")), default=F("source__name")),
            )
            .order_by("-direction", "type__forward_label", "other_name", "id")
        )
        page = self.paginate_queryset(relationships)
        for relationship in page:
            is_outgoing = relationship.direction == "outgoing"
            relationship.label = relationship.type.forward_label if is_outgoing else relationship.type.reverse_label
            relationship.other = relationship.target if is_outgoing else relationship.source
        return self.get_paginated_response(CIRelationshipSerializer(page, many=True).data)


class RelationshipViewSet(ServiceWritesMixin, PortalModelViewSet):
    """``source`` —``type``→ ``target``. ``?ci=`` matches either end; ``?type=`` takes a slug."""

    queryset = Relationship.objects.select_related("source", "target", "type")
    serializer_class = RelationshipSerializer
    filterset_class = RelationshipFilterSet
    ordering_fields = ["id", "source__name", "target__name", "type__forward_label", "created_at"]

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = services.relate(
            data["source"], data["type"], data["target"], description=data.get("description", "")
        )

    def service_save(self, instance, data):
        return services.save_relationship(_assign(instance, data))

    def service_delete(self, instance):
        services.unrelate(instance)
