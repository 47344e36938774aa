"""``vendors.selectors.scorecard``: a vendor's figures over a period, against hand-computed ones."""

import datetime as dt
from decimal import Decimal

import pytest

from tests.factories import CIFactory
from tests.slas.conftest import paris
from tests.vendors.escalating import contract, incident_on, set_clock, vendor
from vendors.selectors import scorecard, term_years
from vendors.services.escalations import escalate, record_resolution, record_response, withdraw

pytestmark = pytest.mark.django_db

JULY = (dt.date(2026, 7, 1), dt.date(2026, 7, 31))
YEAR_2026 = {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 12, 31)}


@pytest.fixture
def now(monkeypatch):
    return set_clock(monkeypatch)


@pytest.fixture
def acme():
    return vendor("Acme")


def test_a_vendor_without_anything_has_empty_figures(now, acme):
    assert scorecard(acme, *JULY) == {
        "escalations": 0,
        "response_met_pct": None,
        "resolution_met_pct": None,
        "mean_response_hours": None,
        "mean_resolution_hours": None,
        "incidents_on_covered_cis": 0,
        "yearly_spend": {},
        "contracts": 0,
    }


def test_the_yearly_spend_counts_payments_a_year_and_spreads_one_off_costs_over_the_term(now, acme):
    contract(supplier=acme, cost_amount=1200, currency="EUR", billing_period="yearly", **YEAR_2026)
    contract(supplier=acme, cost_amount=100, currency="USD", billing_period="monthly", **YEAR_2026)
    contract(supplier=acme, cost_amount=250, currency="EUR", billing_period="quarterly", **YEAR_2026)
    contract(
        supplier=acme,
        type="licence",
        cost_amount=3000,
        currency="EUR",
        billing_period="one_off",
        start=dt.date(2025, 1, 1),
        end=dt.date(2027, 12, 31),
    )
    # Not in the period, or another vendor's: not counted.
    contract(supplier=acme, cost_amount=9999, start=dt.date(2025, 1, 1), end=dt.date(2026, 6, 30))
    contract(supplier=vendor("Globex"), cost_amount=5000, **YEAR_2026)

    card = scorecard(acme, *JULY)

    # EUR: 1200 + 4 × 250 + 3000 / 3 years; USD: 12 × 100.
    assert card["yearly_spend"] == {"EUR": Decimal("3200.00"), "USD": Decimal("1200.00")}
    assert card["contracts"] == 4  # in force on 2026-07-10 (today, before the period's end)


def test_a_term_counts_its_end_day_and_month_ends():
    class Term:
        def __init__(self, start, end):
            self.start_date, self.end_date = start, end

    assert term_years(Term(dt.date(2025, 1, 1), dt.date(2027, 12, 31))) == 3
    assert term_years(Term(dt.date(2026, 1, 31), dt.date(2026, 7, 30))) == Decimal("0.5")


def test_the_escalation_figures_count_the_stopped_vendor_clocks_in_business_hours(now, acme, alice):
    ci, other_ci, uncovered = CIFactory(), CIFactory(), CIFactory()
    covering = contract([ci, other_ci], supplier=acme, **YEAR_2026)  # P2: response 4 h, resolution 16 h

    now.set(paris(2026, 6, 30, 10, 0))  # before the period: not counted
    old = escalate(incident_on(ci), user=alice, contract=covering)
    now.set(paris(2026, 6, 30, 11, 0))
    record_resolution(old, user=alice)

    now.set(paris(2026, 7, 10, 16, 0))  # Friday
    first = escalate(incident_on(ci), user=alice, contract=covering)
    now.set(paris(2026, 7, 13, 9, 0))
    second = escalate(incident_on(other_ci), user=alice, contract=covering)
    now.set(paris(2026, 7, 13, 11, 0))
    record_response(first, user=alice)  # 3 h: met
    now.set(paris(2026, 7, 13, 14, 0))
    record_response(second, user=alice)  # 5 h: breached
    now.set(paris(2026, 7, 13, 15, 0))
    record_resolution(first, user=alice)  # 7 h: met
    now.set(paris(2026, 7, 14, 16, 0))
    record_resolution(second, user=alice)  # 15 h: met
    now.set(paris(2026, 7, 14, 16, 30))
    withdrawn = escalate(incident_on(ci), user=alice, contract=covering)
    withdraw(withdrawn, user=alice, note="Our mistake")  # canceled clocks: not counted
    escalate(incident_on(ci), user=alice, contract=covering)  # still open: counted as an escalation only
    incident_on(uncovered)  # not on a covered CI

    card = scorecard(acme, *JULY)

    assert card["escalations"] == 4
    assert card["response_met_pct"] == 50.0
    assert card["mean_response_hours"] == 4.0
    assert card["resolution_met_pct"] == 100.0
    assert card["mean_resolution_hours"] == 11.0
    assert card["incidents_on_covered_cis"] == 4  # the June incident is outside the period
    assert scorecard(acme, dt.date(2026, 6, 1), dt.date(2026, 6, 30))["escalations"] == 1
