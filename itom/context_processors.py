from django.conf import settings

from itom import navigation
from itom.roles import is_manager


def portal(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    return {
        "portal_name": settings.PORTAL_NAME,
        "nav_items": navigation.items_for(user) if signed_in else [],
        "can_admin": signed_in and (user.is_superuser or is_manager(user)),
    }
