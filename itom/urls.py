from django.contrib import admin
from django.urls import include, path

from accounts.urls import auth_urlpatterns
from itom import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("livez", views.livez, name="livez"),
    path("api/v1/", include(("itom.api.urls", "api"), namespace="api")),
    path("admin/", admin.site.urls),
    path("", include("itom.urls_notifications")),
    path("", include("accounts.urls")),
    path("", include("cmdb.urls")),
    path("", include("slas.urls")),
    path("", include("incidents.urls")),
    path("", include("vendors.urls")),
    path("", include("changes.urls")),
    path("", include("monitoring.urls")),
    path("ping/", include("monitoring.urls_ping")),
    path("", include(auth_urlpatterns)),
]
