from django.contrib.auth import get_user_model

from accounts.api.serializers import TeamSerializer, UserSerializer
from accounts.filters import TeamFilterSet, UserFilterSet
from accounts.models import Team
from itom.api.viewsets import PortalModelViewSet, PortalReadOnlyViewSet


class TeamViewSet(PortalModelViewSet):
    queryset = Team.objects.prefetch_related("members")
    serializer_class = TeamSerializer
    filterset_class = TeamFilterSet
    ordering_fields = ["name", "created_at", "updated_at"]


class UserViewSet(PortalReadOnlyViewSet):
    queryset = get_user_model().objects.prefetch_related("teams", "groups").order_by("username")
    serializer_class = UserSerializer
    filterset_class = UserFilterSet
    ordering_fields = ["username", "last_name", "date_joined"]
