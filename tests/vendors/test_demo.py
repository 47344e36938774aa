"""The vendors' part of ``manage.py seed_demo`` (vendors/demo.py): vendors with contacts, contracts
covering the demo estate (one whose notice deadline is near, one that renews by itself), and an
incident escalated to its vendor with running vendor clocks — once, however many times it runs."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from slas.models import SLAClock
from vendors.models import Contract, Vendor, VendorContact, VendorEscalation
from vendors.services.renewals import renewals_due

pytestmark = pytest.mark.django_db


def seed_demo():
    call_command("seed_demo", stdout=StringIO())


def counts():
    return (
        Vendor.objects.count(),
        VendorContact.objects.count(),
        Contract.objects.count(),
        VendorEscalation.objects.count(),
    )


def test_the_demo_has_vendors_contracts_a_renewal_due_and_an_escalated_incident():
    seed_demo()
    assert Vendor.objects.count() == 4 and VendorContact.objects.count() >= 4
    assert Contract.objects.filter(auto_renew=True).exists()
    due = list(renewals_due(timezone.localdate(), days=90))
    assert [c.title for c in due][:1] == ["Oracle Database premier support"]
    escalation = VendorEscalation.objects.get()
    assert escalation.incident.hold_reason == "awaiting_vendor"
    assert escalation.vendor_ticket and escalation.contract.covered_cis.filter(name="payroll-db").exists()
    metrics = set(SLAClock.objects.filter(vendor_escalation=escalation).values_list("metric", flat=True))
    assert metrics == {"response", "resolution"}


def test_running_the_demo_twice_changes_nothing():
    seed_demo()
    first = counts()
    seed_demo()
    assert counts() == first
