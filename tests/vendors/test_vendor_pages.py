"""The vendor pages with Django's client: the list (filters, CSV), a vendor's page (contacts,
contracts, covered CIs, the scorecard over a chosen period), the vendor and contact forms
(managers only) — bad input shown on its field with nothing written."""

import datetime as dt
import html

import pytest

from itom.models import ObjectChange
from tests.factories import CIFactory
from tests.vendors.api_helpers import support_contract, today
from tests.vendors.factories import VendorFactory
from vendors.models import Vendor, VendorContact

pytestmark = pytest.mark.django_db


def text_of(response):
    return html.unescape(response.content.decode())


def names(response):
    return [row[0].name for row in response.context["rows"]]


def test_everyone_who_may_see_vendors_finds_them_in_the_navigation_and_the_list(client, victor):
    VendorFactory(name="Acme Networks")
    VendorFactory(name="Globex Cloud", status="inactive")
    client.force_login(victor)
    response = client.get("/vendors/")
    assert response.status_code == 200
    assert sorted(names(response)) == ["Acme Networks", "Globex Cloud"]
    assert 'href="/vendors/"' in text_of(response)
    assert names(client.get("/vendors/", {"status": "inactive"})) == ["Globex Cloud"]
    assert "Add vendor" not in text_of(response)


def test_the_list_exports_csv(client, victor):
    VendorFactory(name="Acme Networks")
    client.force_login(victor)
    response = client.get("/vendors/", {"export": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("Name,Status")
    assert "Acme Networks" in body


def test_a_vendor_page_shows_its_contacts_contracts_covered_cis_and_scorecard(client, alice):
    vendor = VendorFactory(name="Acme Networks")
    VendorContact.objects.create(vendor=vendor, name="Wile E. Coyote", email="wile@acme.example")
    contract = support_contract([CIFactory(name="core-switch-01")], vendor=vendor, title="Switch support")
    client.force_login(alice)
    response = client.get(f"/vendors/{vendor.pk}/")
    body = text_of(response)
    assert response.status_code == 200
    assert "Wile E. Coyote" in body and contract.number in body and "core-switch-01" in body
    assert response.context["scorecard"]["contracts"] == 1
    assert response.context["scorecard"]["escalations"] == 0
    assert len(response.context["chart"]["labels"]) == 4
    assert "/edit/" not in body  # agents read vendors, managers write them


def test_the_scorecard_period_follows_the_picker_and_a_backwards_one_is_said(client, alice):
    vendor = VendorFactory()
    client.force_login(alice)
    start, end = today() - dt.timedelta(days=30), today()
    response = client.get(f"/vendors/{vendor.pk}/", {"start": start.isoformat(), "end": end.isoformat()})
    assert (response.context["start"], response.context["end"]) == (start, end)
    backwards = client.get(f"/vendors/{vendor.pk}/", {"start": end.isoformat(), "end": start.isoformat()})
    assert backwards.status_code == 200
    assert backwards.context["period_form"].errors["end"] == ["The end must not be before the start."]
    assert backwards.context["end"] == today()


def test_a_manager_adds_and_edits_a_vendor(client, maria):
    client.force_login(maria)
    assert client.get("/vendors/new/").status_code == 200
    response = client.post("/vendors/new/", {"name": "Initech", "status": "active"})
    vendor = Vendor.objects.get(name="Initech")
    assert response["Location"] == f"/vendors/{vendor.pk}/"
    response = client.post(f"/vendors/{vendor.pk}/edit/", {"name": "Initech", "status": "inactive"})
    vendor.refresh_from_db()
    assert vendor.status == "inactive"
    assert ObjectChange.objects.filter(object_repr="Initech", action="create", user_name="maria").exists()


def test_a_vendor_with_a_taken_name_is_refused_on_the_field(client, maria):
    VendorFactory(name="Initech")
    client.force_login(maria)
    response = client.post("/vendors/new/", {"name": "Initech", "status": "active"})
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    assert Vendor.objects.count() == 1


def test_agents_and_viewers_may_not_write_vendors(client, alice, victor):
    vendor = VendorFactory(name="Acme Networks")
    for person in (alice, victor):
        client.force_login(person)
        assert client.get("/vendors/new/").status_code == 403
        assert client.post(f"/vendors/{vendor.pk}/edit/", {"name": "Renamed", "status": "active"}).status_code == 403
        assert client.post(f"/vendors/{vendor.pk}/contacts/new/", {"name": "X"}).status_code == 403
    vendor.refresh_from_db()
    assert vendor.name == "Acme Networks" and not vendor.contacts.exists()


def test_a_manager_adds_edits_and_deletes_a_contact(client, maria):
    vendor = VendorFactory()
    client.force_login(maria)
    data = {"name": "Road Runner", "email": "rr@acme.example", "escalation_level": 2}
    response = client.post(f"/vendors/{vendor.pk}/contacts/new/", data)
    contact = VendorContact.objects.get()
    assert response["Location"] == f"/vendors/{vendor.pk}/#contacts"
    assert (contact.vendor, contact.escalation_level) == (vendor, 2)
    client.post(f"/vendors/contacts/{contact.pk}/edit/", {"name": "Road Runner", "escalation_level": 3})
    contact.refresh_from_db()
    assert contact.escalation_level == 3
    client.post(f"/vendors/contacts/{contact.pk}/delete/")
    assert not VendorContact.objects.exists()


def test_a_contact_with_a_bad_email_is_refused_on_the_field(client, maria):
    vendor = VendorFactory()
    client.force_login(maria)
    response = client.post(
        f"/vendors/{vendor.pk}/contacts/new/", {"name": "Road Runner", "email": "not-an-address", "escalation_level": 1}
    )
    assert response.status_code == 200
    assert "email" in response.context["form"].errors
    assert not VendorContact.objects.exists()
