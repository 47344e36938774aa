from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import APIToken, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "lead", "member_count"]
    search_fields = ["name", "email"]
    autocomplete_fields = ["lead"]
    ordering = ["name"]
    filter_horizontal = ["members"]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).select_related("lead").annotate(_member_count=Count("members"))

    @admin.display(ordering="_member_count", description="Members")
    def member_count(self, team):
        return team._member_count


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """Tokens are created by their owners (page or ``create_api_token``); here they are listed
    and can be revoked (deleted) or have their expiry changed. The key itself is never stored."""

    list_display = ["name", "user", "prefix", "write_enabled", "expires_at", "last_used_at", "created_at"]
    list_filter = ["write_enabled"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["user", "prefix", "last_used_at", "created_at"]
    fields = ["name", "user", "prefix", "write_enabled", "expires_at", "last_used_at", "created_at"]

    def has_add_permission(self, request):
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PortalUserAdmin(UserAdmin):
    """Managers administer users and their roles; only superusers grant superuser status or
    individual permissions, so a manager cannot raise anyone above manager."""

    list_display = ["username", "email", "first_name", "last_name", "is_active", "roles"]
    list_filter = ["is_active", "groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description="Roles")
    def roles(self, user):
        return ", ".join(sorted(g.name for g in user.groups.all()))

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ["is_superuser", "is_staff", "user_permissions"]
        return readonly
