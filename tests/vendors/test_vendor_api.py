"""``/api/v1/vendors/`` and ``/api/v1/vendors/contacts/``: everyone reads, only managers write;
the scorecard over a period and the production CIs without support."""

import datetime as dt

import pytest

from itom.models import ObjectChange
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory
from tests.vendors.api_helpers import CONTACTS, ESCALATIONS, VENDORS, covered_incident, support_contract, today
from tests.vendors.factories import VendorFactory
from vendors.api.views import VendorContactViewSet, VendorViewSet
from vendors.models import Vendor, VendorContact

pytestmark = pytest.mark.django_db


def _contact():
    return VendorContact.objects.create(vendor=VendorFactory(), name="Dana Scully", role="Support lead")


class TestVendorAPI(APIEndpointTests):
    viewset = VendorViewSet
    url_name = "api:vendor"
    make_object = staticmethod(lambda: VendorFactory())
    create_data = {"name": "Initech", "website": "https://initech.example", "categories": ["software", "cloud"]}
    update_data = {"account_manager": "Bill Lumbergh"}
    invalid_data = {"status": "bankrupt"}


class TestVendorContactAPI(APIEndpointTests):
    viewset = VendorContactViewSet
    url_name = "api:vendor-contact"
    make_object = staticmethod(_contact)
    create_data = staticmethod(lambda: {"vendor": VendorFactory().pk, "name": "Fox Mulder", "escalation_level": 2})
    update_data = {"phone": "+33 1 23 45 67 89"}
    invalid_data = {"email": "not-an-address"}


# --- vendors ------------------------------------------------------------------------------------


def test_a_vendor_reads_with_its_categories_and_contacts(maria_api, victor_api):
    vendor = VendorFactory(name="Globex")
    response = maria_api.patch(f"{VENDORS}{vendor.pk}/", {"categories": ["telecom", "services"]}, format="json")
    assert response.status_code == 200, response.content
    VendorContact.objects.create(vendor=vendor, name="Hank Scorpio", escalation_level=2)
    VendorContact.objects.create(vendor=vendor, name="Frank Grimes", escalation_level=1)
    body = victor_api.get(f"{VENDORS}{vendor.pk}/").json()
    assert sorted(name.lower() for name in body["category_names"]) == ["services", "telecom"]
    assert [c["name"] for c in body["contacts"]] == ["Frank Grimes", "Hank Scorpio"]


def test_an_unknown_category_is_a_400_naming_it(maria_api):
    response = maria_api.post(VENDORS, {"name": "Hooli", "categories": ["crypto"]}, format="json")
    assert response.status_code == 400
    assert "categories" in response.json()
    assert not Vendor.objects.filter(name="Hooli").exists()


def test_a_duplicate_vendor_name_is_a_400_on_the_name(maria_api):
    VendorFactory(name="Hooli")
    response = maria_api.post(VENDORS, {"name": "Hooli"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert Vendor.objects.filter(name="Hooli").count() == 1


def test_agents_read_vendors_but_cannot_write_them(alice_api):
    vendor = VendorFactory(name="Umbrella")
    assert alice_api.get(f"{VENDORS}{vendor.pk}/").status_code == 200
    assert alice_api.post(VENDORS, {"name": "Aperture"}, format="json").status_code == 403
    assert alice_api.patch(f"{VENDORS}{vendor.pk}/", {"notes": "x"}, format="json").status_code == 403
    assert alice_api.post(CONTACTS, {"vendor": vendor.pk, "name": "Chell"}, format="json").status_code == 403
    assert not Vendor.objects.filter(name="Aperture").exists()
    assert not VendorContact.objects.exists()


def test_a_vendor_with_contracts_cannot_be_deleted(maria_api):
    contract = support_contract()
    response = maria_api.delete(f"{VENDORS}{contract.vendor_id}/")
    assert response.status_code == 409
    assert Vendor.objects.filter(pk=contract.vendor_id).exists()


def test_vendors_filter_by_status_and_category(victor_api, maria_api):
    cloudy = VendorFactory(name="Cloudy")
    maria_api.patch(f"{VENDORS}{cloudy.pk}/", {"categories": ["cloud"]}, format="json")
    VendorFactory(name="Gone", status="inactive")
    names = lambda params: [v["name"] for v in victor_api.get(VENDORS, params).json()["results"]]  # noqa: E731
    assert names({"category": "cloud"}) == ["Cloudy"]
    assert names({"status": "inactive"}) == ["Gone"]
    assert names({"q": "clou"}) == ["Cloudy"]


def test_contacts_filter_by_vendor_and_a_contact_stays_with_its_vendor(maria_api):
    contact = _contact()
    other = VendorFactory(name="Other")
    assert maria_api.get(CONTACTS, {"vendor": other.pk}).json()["count"] == 0
    assert maria_api.get(CONTACTS, {"vendor": contact.vendor_id}).json()["count"] == 1
    response = maria_api.patch(f"{CONTACTS}{contact.pk}/", {"vendor": other.pk}, format="json")
    assert response.status_code == 400
    assert "vendor" in response.json()
    contact.refresh_from_db()
    assert contact.vendor_id != other.pk


# --- scorecard ----------------------------------------------------------------------------------


def test_the_scorecard_defaults_to_the_last_365_days(victor_api):
    vendor = VendorFactory()
    body = victor_api.get(f"{VENDORS}{vendor.pk}/scorecard/").json()
    assert body["vendor"] == {"id": vendor.pk, "name": vendor.name}
    assert dt.date.fromisoformat(body["end"]) == today()
    assert dt.date.fromisoformat(body["start"]) == today() - dt.timedelta(days=365)
    assert body["escalations"] == 0
    assert body["response_met_pct"] is None
    assert body["resolution_met_pct"] is None
    assert set(body) >= {
        "mean_response_hours",
        "mean_resolution_hours",
        "incidents_on_covered_cis",
        "yearly_spend",
        "contracts",
    }


def test_the_scorecard_counts_an_escalation_made_through_the_api(alice_api):
    incident, contract = covered_incident(cost_amount=1200, currency="EUR", billing_period="yearly")
    url = f"{VENDORS}{contract.vendor_id}/scorecard/"
    before = alice_api.get(url).json()
    response = alice_api.post(ESCALATIONS, {"incident": incident.number, "contract": contract.number}, format="json")
    assert response.status_code == 201, response.content
    after = alice_api.get(url).json()
    assert (before["escalations"], after["escalations"]) == (0, 1)
    assert after["incidents_on_covered_cis"] == 1
    assert after["contracts"] == 1
    assert after["yearly_spend"] == {"EUR": "1200.00"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-02-30"}, "end"),
        ({"start": "2026-03-01", "end": "2026-02-01"}, "end"),
    ],
)
def test_a_malformed_scorecard_period_is_a_400_naming_the_parameter(victor_api, params, field):
    vendor = VendorFactory()
    response = victor_api.get(f"{VENDORS}{vendor.pk}/scorecard/", params)
    assert response.status_code == 400
    assert field in response.json()


def test_the_scorecard_of_an_unknown_vendor_is_a_404(victor_api):
    assert victor_api.get(f"{VENDORS}999999/scorecard/").status_code == 404


# --- production CIs without support ---------------------------------------------------------------


def test_unsupported_cis_lists_production_cis_no_active_support_contract_covers(victor_api):
    covered, bare, lapsed = CIFactory(name="covered-01"), CIFactory(name="bare-01"), CIFactory(name="lapsed-01")
    CIFactory(name="staging-01", environment="staging")
    support_contract([covered])
    support_contract(
        [lapsed], start=today() - dt.timedelta(days=400), end=today() - dt.timedelta(days=1), calendar=False
    )
    body = victor_api.get(f"{VENDORS}unsupported-cis/").json()
    names = [ci["name"] for ci in body["results"]]
    assert "bare-01" in names and "lapsed-01" in names
    assert "covered-01" not in names and "staging-01" not in names
    assert bare.pk in [ci["id"] for ci in body["results"]]


def test_reads_write_no_audit_rows(victor_api):
    vendor = VendorFactory()
    before = ObjectChange.objects.count()
    victor_api.get(f"{VENDORS}{vendor.pk}/scorecard/")
    victor_api.get(f"{VENDORS}unsupported-cis/")
    assert ObjectChange.objects.count() == before
