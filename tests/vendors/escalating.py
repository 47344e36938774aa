"""What the escalation, scorecard and selector tests share: contracts built row by row, incidents
on covered CIs, and a clock the tests set (``django.utils.timezone.now``)."""

import datetime as dt

from django.utils import timezone

from tests.factories import CIFactory, business_calendar, open_incident
from tests.slas.conftest import paris
from vendors.models import Contract, ContractTerm, Vendor

FRIDAY_4PM = paris(2026, 7, 10, 16, 0)  # office hours 09:00–17:00 Mon–Fri, Europe/Paris
TODAY = FRIDAY_4PM.date()

# response, resolution minutes per priority
TERMS = {1: (60, 240), 2: (240, 960), 3: (480, 1920)}


class Clock:
    """``timezone.now()`` as the test sets it."""

    def __init__(self, at):
        self.at = at

    def __call__(self):
        return self.at.astimezone(dt.UTC)

    def set(self, at):
        self.at = at


def set_clock(monkeypatch, at=FRIDAY_4PM):
    """Make ``timezone.now()`` return ``at`` until the test moves it (``clock.set(...)``)."""
    clock = Clock(at)
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def vendor(name="Acme Support"):
    return Vendor.objects.get_or_create(name=name)[0]


def contract(
    cis=(),
    *,
    supplier=None,
    start=TODAY - dt.timedelta(days=30),
    end=TODAY + dt.timedelta(days=335),
    calendar=True,
    terms=TERMS,
    **fields,
):
    """A support contract in force (by default) covering ``cis``, in office hours, with ``terms``."""
    fields.setdefault("title", "Premium support")
    made = Contract.objects.create(
        vendor=supplier or vendor(),
        start_date=start,
        end_date=end,
        support_calendar=business_calendar() if calendar else None,
        **fields,
    )
    made.covered_cis.set(cis)
    for priority, (response, resolution) in terms.items():
        ContractTerm.objects.create(
            contract=made, priority=priority, response_minutes=response, resolution_minutes=resolution
        )
    return made


def incident_on(*cis, impact=1, urgency=2):
    """An incident opened on ``cis`` (P2 by default: impact high, urgency medium)."""
    return open_incident(None, affected_cis=list(cis), impact=impact, urgency=urgency)


def covered_incident(**contract_fields):
    """``(incident, contract)``: a new P2 incident on a CI the contract covers."""
    ci = CIFactory()
    return incident_on(ci), contract([ci], **contract_fields)
