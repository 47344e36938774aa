from itom.api.serializers import ObjectChangeSerializer
from itom.api.viewsets import PortalReadOnlyViewSet
from itom.filters import ObjectChangeFilterSet
from itom.models import ObjectChange


class ObjectChangeViewSet(PortalReadOnlyViewSet):
    """The audit trail: every create, update, delete and m2m change of an audited object."""

    queryset = ObjectChange.objects.select_related("content_type")
    serializer_class = ObjectChangeSerializer
    filterset_class = ObjectChangeFilterSet
    ordering_fields = ["time", "id"]
