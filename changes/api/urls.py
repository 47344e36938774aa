"""``/api/v1/changes/…``: change requests (``changes.api.views``), and the blackout windows,
templates, risk questionnaire and approval policies (``changes.api.configuration``). Change ids
are digits only, so ``calendar/``, ``blackouts/`` … never read as a change."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from changes.api import configuration, views

router = SimpleRouter()
router.register("blackouts", configuration.BlackoutWindowViewSet, basename="change-blackout")
router.register("templates", configuration.TemplateViewSet, basename="change-template")
router.register("risk-questions", configuration.RiskQuestionViewSet, basename="change-risk-question")
router.register("approval-policies", configuration.ApprovalPolicyViewSet, basename="change-approval-policy")
router.register("", views.ChangeRequestViewSet, basename="change")

urlpatterns = [
    path("", include(router.urls)),
]
