"""The production CIs no support contract covers, the contracts covering a CI, and the CI page's
"Contracts" panel."""

import datetime as dt

import pytest

from cmdb import related
from tests.factories import CIFactory, UserFactory
from tests.vendors.escalating import TODAY, contract, set_clock
from vendors.selectors import covering_contracts, unsupported_production_cis

pytestmark = pytest.mark.django_db


@pytest.fixture
def now(monkeypatch):
    return set_clock(monkeypatch)


def production(name, **fields):
    return CIFactory(name=name, environment="production", status="active", **fields)


def test_the_unsupported_production_cis_are_the_active_ones_no_support_contract_in_force_covers(now):
    supported = production("supported")
    licensed_only = production("licensed-only")
    lapsed = production("lapsed")
    production("bare")
    CIFactory(name="staging", environment="staging", status="active")
    CIFactory(name="retired", environment="production", status="retired")
    contract([supported], type="maintenance")
    contract([licensed_only], type="licence")
    contract([lapsed], end=TODAY - dt.timedelta(days=1))

    names = [ci.name for ci in unsupported_production_cis()]

    assert names == ["bare", "lapsed", "licensed-only"]
    assert "lapsed" not in [ci.name for ci in unsupported_production_cis(today=TODAY - dt.timedelta(days=1))]


def test_the_contracts_covering_a_ci_list_those_in_force_first(now):
    ci = CIFactory()
    expired = contract([ci], start=dt.date(2024, 1, 1), end=dt.date(2025, 12, 31))
    later = contract([ci], end=TODAY + dt.timedelta(days=300))
    sooner = contract([ci], end=TODAY + dt.timedelta(days=10))
    upcoming = contract([ci], start=TODAY + dt.timedelta(days=5), end=TODAY + dt.timedelta(days=100))
    contract([CIFactory()])

    assert list(covering_contracts(ci)) == [sooner, later, expired, upcoming]


def test_the_ci_page_lists_the_contracts_covering_the_ci_to_those_who_may_see_contracts(now, alice):
    ci = CIFactory()
    covering = contract([ci])

    panels = {kind.key: (count, objects, url) for kind, count, objects, url in related.related_to(ci, alice)}

    count, objects, url = panels["contracts"]
    assert (count, [obj for obj, _label in objects]) == (1, [covering])
    assert url.endswith(f"?ci={ci.pk}")
    nobody = UserFactory(username="nobody")  # no role
    assert "contracts" not in {kind.key for kind, *_ in related.related_to(ci, nobody)}
