"""``/api/v1/cmdb/``: the resources (router, ``cmdb.api.views``) and the integration endpoints
(import, host facts, Ansible inventory: ``cmdb.api.integration_urls``)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

router = SimpleRouter()

urlpatterns = [
    path("", include("cmdb.api.integration_urls")),
    path("", include(router.urls)),
]
