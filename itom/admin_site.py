from django.conf import settings
from django.contrib import admin


class PortalAdminSite(admin.AdminSite):
    """The admin console: branded, and open to the ``manager`` role and superusers only."""

    site_header = f"{settings.PORTAL_NAME} administration"
    site_title = settings.PORTAL_NAME
    index_title = "Configuration"
    site_url = "/"

    def has_permission(self, request):
        from itom.roles import is_manager

        user = request.user
        return user.is_active and (user.is_superuser or is_manager(user))
