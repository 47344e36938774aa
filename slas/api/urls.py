"""``/api/v1/sla/``: business calendars and SLA policies."""

from rest_framework.routers import SimpleRouter

from slas.api import views

router = SimpleRouter()
router.register("calendars", views.CalendarViewSet, basename="sla-calendar")
router.register("policies", views.PolicyViewSet, basename="sla-policy")

urlpatterns = router.urls
