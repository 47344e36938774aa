"""``/api/v1/cmdb/``: the resources (router, ``cmdb.api.views``) and the integration endpoints
(import, host facts, Ansible inventory: ``cmdb.api.integration_urls``). The integration routes
come first, so ``cis/export/`` resolves before the router's ``cis/{pk}/``."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from cmdb.api import views

router = SimpleRouter()
router.register("classes", views.CIClassViewSet, basename="cmdb-class")
router.register("relationship-types", views.RelationshipTypeViewSet, basename="cmdb-relationship-type")
router.register("tags", views.TagViewSet, basename="cmdb-tag")
router.register("cis", views.CIViewSet, basename="cmdb-ci")
router.register("relationships", views.RelationshipViewSet, basename="cmdb-relationship")

urlpatterns = [
    path("", include("cmdb.api.integration_urls")),
    path("", include(router.urls)),
]
