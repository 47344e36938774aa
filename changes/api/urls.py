"""``/api/v1/changes/…``."""

urlpatterns = []
