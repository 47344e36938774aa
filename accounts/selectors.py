from django.db.models import Count, Q

from accounts.models import APIToken, Team


def teams_of(user):
    """The teams a user is a member or the lead of, with their member counts."""
    mine = Team.objects.filter(Q(members=user) | Q(lead=user)).values("pk")
    return Team.objects.filter(pk__in=mine).annotate(member_count=Count("members")).order_by("name")


def active_tokens_of(user):
    return APIToken.objects.active().filter(user=user).order_by("-created_at")
