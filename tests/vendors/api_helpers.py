"""What the vendor API tests share: a contract that covers a CI, with support hours and terms for
every priority, and an open incident on that CI."""

import datetime as dt

from django.utils import timezone

from tests.factories import CIFactory, business_calendar, open_incident
from tests.vendors.factories import ContractFactory, VendorFactory

VENDORS = "/api/v1/vendors/"
CONTACTS = "/api/v1/vendors/contacts/"
CONTRACTS = "/api/v1/vendors/contracts/"
ESCALATIONS = "/api/v1/vendors/escalations/"

# response, resolution minutes per priority
TERMS = {1: (60, 240), 2: (120, 480), 3: (240, 960), 4: (480, 1920), 5: (960, 3840)}


def today():
    return timezone.localdate()


def support_contract(cis=(), *, vendor=None, start=None, end=None, calendar=True, terms=TERMS, **fields):
    """An active support contract (by default) covering ``cis``, in office hours, with ``terms``."""
    from vendors.models import ContractTerm

    contract = ContractFactory(
        vendor=vendor or VendorFactory(),
        type="support",
        start_date=start or today() - dt.timedelta(days=30),
        end_date=end or today() + dt.timedelta(days=335),
        support_calendar=business_calendar() if calendar else None,
        **fields,
    )
    contract.covered_cis.set(cis)
    contract.terms.all().delete()
    for priority, (response, resolution) in terms.items():
        ContractTerm.objects.create(
            contract=contract, priority=priority, response_minutes=response, resolution_minutes=resolution
        )
    return contract


def covered_incident(**contract_fields):
    """``(incident, contract)``: an open incident on a CI the contract covers."""
    ci = CIFactory()
    contract = support_contract([ci], **contract_fields)
    return open_incident(None, affected_cis=[ci]), contract
