"""``/api/v1/vendors/…``: contacts, contracts and escalations, then the vendors themselves (vendor
ids are digits only, so ``contacts/``, ``contracts/``, ``unsupported-cis/`` … never read as a
vendor)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from vendors.api import views

router = SimpleRouter()
router.register("contacts", views.VendorContactViewSet, basename="vendor-contact")
router.register("contracts", views.ContractViewSet, basename="vendor-contract")
router.register("escalations", views.VendorEscalationViewSet, basename="vendor-escalation")
router.register("", views.VendorViewSet, basename="vendor")

urlpatterns = [
    path("", include(router.urls)),
]
