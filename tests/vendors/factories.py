"""Vendor factories: bare rows with sane defaults (no audit trail, no checks). Use
``vendors.services.contracts`` to write the way the product does."""

import datetime as dt

import factory
from django.utils import timezone

# response, resolution minutes per priority
DEFAULT_TERMS = {1: (60, 240), 2: (120, 480), 3: (240, 960), 4: (480, 1920), 5: (960, 3840)}


class VendorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "vendors.Vendor"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Vendor {n}")


class VendorContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "vendors.VendorContact"

    vendor = factory.SubFactory(VendorFactory)
    name = factory.Sequence(lambda n: f"Contact {n}")
    role = "Support engineer"


class ContractFactory(factory.django.DjangoModelFactory):
    """A yearly support contract that started a month ago and runs for a year (EUR, 30 days'
    notice, no auto-renewal)."""

    class Meta:
        model = "vendors.Contract"
        skip_postgeneration_save = True

    vendor = factory.SubFactory(VendorFactory)
    title = factory.Sequence(lambda n: f"Support contract {n}")
    type = "support"
    start_date = factory.LazyFunction(lambda: timezone.localdate() - dt.timedelta(days=30))
    end_date = factory.LazyAttribute(lambda c: c.start_date + dt.timedelta(days=365))
    notice_days = 30
    cost_amount = 0
    currency = "EUR"
    billing_period = "yearly"

    @factory.post_generation
    def covered_cis(self, create, extracted, **kwargs):
        if create and extracted:
            self.covered_cis.set(extracted)


def contract_with_terms(terms=None, *, cis=(), calendar=None, **fields):
    """A contract (``ContractFactory`` fields) covering ``cis``, with ``terms``
    ``{priority: (response_minutes, resolution_minutes)}`` (default: every priority) and
    ``calendar`` as its support hours (default: none)."""
    from vendors.models import ContractTerm

    contract = ContractFactory(support_calendar=calendar, **fields)
    if cis:
        contract.covered_cis.set(cis)
    for priority, (response, resolution) in (DEFAULT_TERMS if terms is None else terms).items():
        ContractTerm.objects.create(
            contract=contract, priority=priority, response_minutes=response, resolution_minutes=resolution
        )
    return contract
