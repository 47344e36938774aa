"""``/api/v1/sla/``: business calendars and SLA policies."""

urlpatterns = []
