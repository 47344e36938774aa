from django.contrib.auth import get_user_model
from rest_framework import serializers

from accounts.models import Team
from itom.api.serializers import ValidatedModelSerializer
from itom.roles import ROLES


class BriefUserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "full_name"]

    full_name = serializers.CharField(source="get_full_name", read_only=True)


class BriefTeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name"]


class TeamSerializer(ValidatedModelSerializer):
    lead = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), allow_null=True, required=False
    )
    members = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.filter(is_active=True), many=True, required=False
    )

    class Meta:
        model = Team
        fields = ["id", "display", "name", "email", "description", "lead", "members", "created_at", "updated_at"]


class UserSerializer(serializers.ModelSerializer):
    full_name = serializers.CharField(source="get_full_name", read_only=True)
    teams = BriefTeamSerializer(many=True, read_only=True)
    roles = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "full_name", "email", "is_active", "teams", "roles"]

    def get_roles(self, user) -> list[str]:
        return sorted(g.name for g in user.groups.all() if g.name in ROLES)
