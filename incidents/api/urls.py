"""``/api/v1/``: incidents (``incidents.api.views``), problems and known errors
(``incidents.api.problems``)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from incidents.api import problems, views

router = SimpleRouter()
router.register("incidents", views.IncidentViewSet, basename="incident")
router.register("incident-categories", views.CategoryViewSet, basename="incident-category")
router.register("priority-matrix", views.PriorityMatrixViewSet, basename="priority-rule")
router.register("problems", problems.ProblemViewSet, basename="problem")
router.register("known-errors", problems.KnownErrorViewSet, basename="known-error")

urlpatterns = [
    path("", include(router.urls)),
]
