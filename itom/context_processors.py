from django.conf import settings
from django.urls import reverse

from itom import navigation
from itom.roles import is_manager


def portal(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    items = navigation.items_for(user) if signed_in else []
    return {
        "portal_name": settings.PORTAL_NAME,
        "nav_items": [
            (item, url, item.is_active(request.path, url)) for item in items for url in [reverse(item.url_name)]
        ],
        "can_admin": signed_in and (user.is_superuser or is_manager(user)),
    }


def notifications(request):
    """The unread count for the navigation's bell: counted only when a template shows it."""
    from django.utils.functional import SimpleLazyObject

    from itom.notifications import unread_count

    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": SimpleLazyObject(lambda: unread_count(user))}
