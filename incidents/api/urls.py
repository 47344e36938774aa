"""``/api/v1/``: incidents (``incidents.api.views``), problems and known errors
(``incidents.api.problems``)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

router = SimpleRouter()

urlpatterns = [
    path("", include(router.urls)),
]
