"""``/api/v1/monitoring/…`` (``monitoring.api.views``). Check ids are digits only, so
``checks/test/`` never reads as a check."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from monitoring.api import views

router = SimpleRouter()
router.register("zones", views.ZoneViewSet, basename="monitoring-zone")
router.register("checks", views.CheckViewSet, basename="monitoring-check")
router.register("alerts", views.AlertViewSet, basename="monitoring-alert")
router.register("maintenance", views.MaintenanceWindowViewSet, basename="monitoring-maintenance")
router.register("integrations", views.IntegrationViewSet, basename="monitoring-integration")
router.register("rules", views.MetricRuleViewSet, basename="monitoring-rule")

urlpatterns = [
    path("metrics/", views.MetricsView.as_view(), name="monitoring-metrics"),
    path("ingest/alertmanager/", views.AlertmanagerIngestView.as_view(), name="monitoring-ingest-alertmanager"),
    path("ingest/events/", views.EventsIngestView.as_view(), name="monitoring-ingest-events"),
    path("", include(router.urls)),
]
