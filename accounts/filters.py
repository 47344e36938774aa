import django_filters
from django.contrib.auth import get_user_model

from accounts.models import Team
from itom.filters import BaseFilterSet


class TeamFilterSet(BaseFilterSet):
    search_fields = ("name", "email", "description")
    member = django_filters.ModelChoiceFilter(
        field_name="members", queryset=get_user_model().objects.order_by("username"), label="Member"
    )
    lead = django_filters.ModelChoiceFilter(queryset=get_user_model().objects.order_by("username"))

    class Meta:
        model = Team
        fields = ["id", "name", "lead", "member"]


class UserFilterSet(BaseFilterSet):
    search_fields = ("username", "first_name", "last_name", "email")
    team = django_filters.ModelMultipleChoiceFilter(field_name="teams", queryset=Team.objects.all())
    role = django_filters.CharFilter(field_name="groups__name", label="Role")

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "is_active", "team", "role"]
