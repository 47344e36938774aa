"""``/api/v1/``: each app contributes its routes from ``<app>/api/urls.py``."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from itom.api import notifications, views
from itom.api.root import APIRootView

router = SimpleRouter()
router.register("audit", views.ObjectChangeViewSet, basename="audit")
router.register("notifications/webhooks", notifications.WebhookEndpointViewSet, basename="notification-webhook")
router.register("notifications", notifications.NotificationViewSet, basename="notification")

urlpatterns = [
    path("", APIRootView.as_view(), name="api-root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path(
        "notifications/preferences/",
        notifications.NotificationPreferencesView.as_view(),
        name="notification-preferences",
    ),
    path("", include(router.urls)),
    path("", include("accounts.api.urls")),
    path("cmdb/", include("cmdb.api.urls")),
    path("sla/", include("slas.api.urls")),
    path("", include("incidents.api.urls")),
    path("vendors/", include("vendors.api.urls")),
    path("changes/", include("changes.api.urls")),
    path("monitoring/", include("monitoring.api.urls")),
]
