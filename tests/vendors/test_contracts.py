"""``vendors.services.contracts``: vendors, contacts, contracts with their terms and covered CIs,
documents. Managers only; bad input is a ValidationError naming the field and writes nothing."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from itom.api.exceptions import Conflict
from itom.models import ObjectChange
from tests.factories import CIFactory, business_calendar, open_incident
from tests.vendors.factories import ContractFactory, VendorContactFactory, VendorFactory, contract_with_terms
from vendors.models import Contract, ContractDocument, ContractTerm, Vendor, VendorContact, VendorEscalation
from vendors.services import contracts as services

START, END = dt.date(2026, 1, 1), dt.date(2026, 12, 31)


def new_contract(user, vendor=None, **fields):
    return services.create_contract(
        user=user,
        vendor=vendor or VendorFactory(),
        title=fields.pop("title", "Premier support"),
        start_date=fields.pop("start_date", START),
        end_date=fields.pop("end_date", END),
        **fields,
    )


def error_fields(excinfo):
    return set(excinfo.value.message_dict)


# --- contracts ----------------------------------------------------------------------------------


def test_a_manager_creates_a_contract_with_terms_covered_cis_owner_and_support_hours(maria, alice):
    ci = CIFactory()
    calendar = business_calendar()
    contract = new_contract(
        maria,
        type="maintenance",
        auto_renew=True,
        renewal_months=6,
        notice_days=60,
        cost_amount="1200.50",
        currency=" usd ",
        billing_period="monthly",
        owner=alice.pk,
        covered_cis=[ci.pk],
        support_calendar=calendar,
        notes="Call first.",
        terms=[
            {"priority": 1, "response_minutes": 30, "resolution_minutes": 240},
            {"priority": 3, "response_minutes": 120},
        ],
    )
    contract.refresh_from_db()
    assert contract.number.startswith("CTR")
    assert (contract.currency, contract.cost_amount, contract.owner, contract.support_calendar) == (
        "USD",
        Decimal("1200.50"),
        alice,
        calendar,
    )
    assert list(contract.covered_cis.all()) == [ci]
    assert {t.priority: (t.response_minutes, t.resolution_minutes) for t in contract.terms.all()} == {
        1: (30, 240),
        3: (120, None),
    }
    assert ObjectChange.objects.filter(object_repr=str(contract)).exists()  # audited


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"end_date": START}, "end_date"),
        ({"end_date": START - dt.timedelta(days=1)}, "end_date"),
        ({"cost_amount": Decimal("-0.01")}, "cost_amount"),
        ({"cost_amount": "lots"}, "cost_amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"terms": [{"priority": 2, "response_minutes": 60}, {"priority": 2, "resolution_minutes": 90}]}, "terms"),
        ({"terms": [{"priority": 9, "response_minutes": 60}]}, "terms"),
        ({"terms": [{"priority": 1, "response_minutes": 0}]}, "terms"),
        ({"terms": [{"priority": 1, "response_minutes": "soon"}]}, "terms"),
        ({"terms": "P1: one hour"}, "terms"),
        ({"covered_cis": [999999]}, "covered_cis"),
        ({"owner": 999999}, "owner"),
        ({"support_calendar": 999999}, "support_calendar"),
        ({"type": "handshake"}, "type"),
        ({"start_date": "someday"}, "start_date"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_contract_input_is_refused_on_the_field_and_writes_nothing(maria, fields, field):
    vendor = VendorFactory()
    with pytest.raises(ValidationError) as excinfo:
        new_contract(maria, vendor, **fields)
    assert field in error_fields(excinfo)
    assert not Contract.objects.exists() and not ContractTerm.objects.exists()


def test_an_unknown_currency_says_what_a_currency_is(maria):
    with pytest.raises(ValidationError) as excinfo:
        new_contract(maria, currency="xyz")
    assert excinfo.value.message_dict["currency"] == ["Unknown currency “XYZ”: an ISO 4217 code such as EUR or USD."]


def test_several_bad_fields_are_reported_together(maria):
    with pytest.raises(ValidationError) as excinfo:
        new_contract(maria, end_date=START, cost_amount=-1, currency="ABC")
    assert {"end_date", "cost_amount", "currency"} <= error_fields(excinfo)


def test_editing_a_contract_replaces_its_terms_and_covered_cis(maria):
    first, second = CIFactory(), CIFactory()
    contract = contract_with_terms({1: (60, 240), 2: (120, 480)}, cis=[first])
    services.update_contract(
        contract,
        user=maria,
        covered_cis=[second],
        terms=[{"priority": 2, "response_minutes": 90, "resolution_minutes": 480}, {"priority": 4}],
    )
    assert list(contract.covered_cis.all()) == [second]
    assert {t.priority: (t.response_minutes, t.resolution_minutes) for t in contract.terms.all()} == {
        2: (90, 480),
        4: (None, None),
    }


def test_an_edit_leaves_what_it_does_not_name_alone(maria):
    contract = contract_with_terms({1: (60, 240)}, cis=[CIFactory()], cost_amount=100)
    services.update_contract(contract, user=maria, notes="Renegotiate in spring.")
    contract.refresh_from_db()
    assert (contract.notes, contract.cost_amount, contract.terms.count(), contract.covered_cis.count()) == (
        "Renegotiate in spring.",
        100,
        1,
        1,
    )


def test_a_bad_edit_writes_nothing(maria):
    contract = contract_with_terms({1: (60, 240)}, cost_amount=100, currency="EUR")
    with pytest.raises(ValidationError) as excinfo:
        services.update_contract(
            contract,
            user=maria,
            cost_amount=-5,
            currency="GBP",
            terms=[{"priority": 1}, {"priority": 1}],
        )
    assert {"cost_amount", "terms"} <= error_fields(excinfo)
    contract.refresh_from_db()
    assert (contract.cost_amount, contract.currency) == (100, "EUR")
    assert [(t.priority, t.response_minutes) for t in contract.terms.all()] == [(1, 60)]


def test_an_end_date_moved_before_the_start_is_refused(maria):
    contract = ContractFactory(start_date=START, end_date=END)
    with pytest.raises(ValidationError) as excinfo:
        services.update_contract(contract, user=maria, end_date=START - dt.timedelta(days=1))
    assert error_fields(excinfo) == {"end_date"}


def test_a_contract_stays_with_its_vendor(maria):
    contract = ContractFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.update_contract(contract, user=maria, vendor=VendorFactory())
    assert error_fields(excinfo) == {"vendor"}
    services.update_contract(contract, user=maria, vendor=contract.vendor, title="Same vendor")
    contract.refresh_from_db()
    assert contract.title == "Same vendor"


def test_only_managers_write_contracts(alice, victor):
    contract = ContractFactory(cost_amount=100)
    for user in (alice, victor, None):
        with pytest.raises(PermissionDenied):
            new_contract(user)
        with pytest.raises(PermissionDenied):
            services.update_contract(contract, user=user, cost_amount=1)
        with pytest.raises(PermissionDenied):
            services.delete_contract(contract, user=user)
    assert Contract.objects.get().cost_amount == 100


def test_a_manager_deletes_a_contract_with_its_terms(maria):
    contract = contract_with_terms()
    services.delete_contract(contract, user=maria)
    assert not Contract.objects.exists() and not ContractTerm.objects.exists()


def test_a_contract_escalations_refer_to_is_not_deleted(maria):
    ci = CIFactory()
    contract = contract_with_terms(cis=[ci], calendar=business_calendar())
    incident = open_incident(None, affected_cis=[ci])
    VendorEscalation.objects.create(
        incident=incident,
        contract=contract,
        vendor=contract.vendor,
        priority=incident.priority,
        escalated_at=incident.created_at,
    )
    with pytest.raises(Conflict, match=contract.number):
        services.delete_contract(contract, user=maria)
    assert Contract.objects.filter(pk=contract.pk).exists()


# --- documents ----------------------------------------------------------------------------------


def test_a_manager_attaches_a_document(maria):
    contract = ContractFactory()
    upload = SimpleUploadedFile("../signed terms.pdf", b"%PDF-1.4 terms", content_type="application/pdf")
    document = services.add_document(contract, user=maria, uploaded_file=upload)
    assert (document.name, document.content_type, document.size, document.uploaded_by) == (
        "signed terms.pdf",
        "application/pdf",
        14,
        maria,
    )
    assert document.file.read() == b"%PDF-1.4 terms"


@pytest.mark.parametrize(
    "upload",
    [
        None,
        SimpleUploadedFile("empty.pdf", b"", content_type="application/pdf"),
        SimpleUploadedFile("run.exe", b"MZ", content_type="application/x-msdownload"),
        SimpleUploadedFile("noextension", b"data", content_type=""),
    ],
)
def test_a_document_that_is_missing_empty_or_of_a_refused_type_is_refused_on_file(maria, upload):
    with pytest.raises(ValidationError) as excinfo:
        services.add_document(ContractFactory(), user=maria, uploaded_file=upload)
    assert error_fields(excinfo) == {"file"}
    assert not ContractDocument.objects.exists()


def test_a_document_over_the_size_limit_is_refused_naming_the_limit(maria, settings):
    settings.ATTACHMENT_MAX_MB = 1
    upload = SimpleUploadedFile("big.pdf", b"x" * (1024 * 1024 + 1), content_type="application/pdf")
    with pytest.raises(ValidationError, match="1 MB"):
        services.add_document(ContractFactory(), user=maria, uploaded_file=upload)
    assert not ContractDocument.objects.exists()


def test_only_managers_attach_documents(alice):
    upload = SimpleUploadedFile("terms.pdf", b"%PDF-1.4", content_type="application/pdf")
    with pytest.raises(PermissionDenied):
        services.add_document(ContractFactory(), user=alice, uploaded_file=upload)
    assert not ContractDocument.objects.exists()


# --- vendors and contacts -----------------------------------------------------------------------


def test_a_manager_creates_and_edits_a_vendor_with_categories(maria):
    vendor = services.create_vendor(
        user=maria, name=" Initech ", categories=["software", "cloud"], support_email="help@initech.example"
    )
    assert vendor.name == "Initech"
    assert sorted(vendor.categories.values_list("slug", flat=True)) == ["cloud", "software"]
    services.update_vendor(vendor, user=maria, status="inactive", categories=["telecom"])
    vendor.refresh_from_db()
    assert vendor.status == "inactive"
    assert list(vendor.categories.values_list("slug", flat=True)) == ["telecom"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "Taken"}, "name"),
        ({"categories": ["crypto"]}, "categories"),
        ({"support_email": "not-an-address"}, "support_email"),
        ({"website": "not a url"}, "website"),
        ({"status": "bankrupt"}, "status"),
    ],
)
def test_bad_vendor_input_is_refused_on_the_field(maria, fields, field):
    VendorFactory(name="Taken")
    with pytest.raises(ValidationError) as excinfo:
        services.create_vendor(user=maria, **{"name": "Hooli", **fields})
    assert field in error_fields(excinfo)
    assert list(Vendor.objects.values_list("name", flat=True)) == ["Taken"]


def test_renaming_a_vendor_to_a_taken_name_is_refused_on_the_name(maria):
    VendorFactory(name="Taken")
    vendor = VendorFactory(name="Free")
    with pytest.raises(ValidationError) as excinfo:
        services.update_vendor(vendor, user=maria, name="Taken")
    assert "Taken" in excinfo.value.message_dict["name"][0]


def test_a_vendor_with_contracts_is_not_deleted_but_one_without_is(maria):
    contract = ContractFactory()
    with pytest.raises(Conflict):
        services.delete_vendor(contract.vendor, user=maria)
    spare = VendorFactory()
    VendorContactFactory(vendor=spare)
    services.delete_vendor(spare, user=maria)
    assert list(Vendor.objects.all()) == [contract.vendor]
    assert not VendorContact.objects.exists()


def test_a_manager_adds_edits_and_deletes_a_contact(maria):
    vendor = VendorFactory()
    contact = services.add_contact(vendor, user=maria, name="Dana Scully", role="Support lead", escalation_level=2)
    services.update_contact(contact, user=maria, phone="+33 1 23 45 67 89", escalation_level=3)
    contact.refresh_from_db()
    assert (contact.vendor, contact.phone, contact.escalation_level) == (vendor, "+33 1 23 45 67 89", 3)
    services.delete_contact(contact, user=maria)
    assert not VendorContact.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"email": "nope"}, "email"), ({"escalation_level": 0}, "escalation_level"), ({"name": ""}, "name")],
)
def test_bad_contact_input_is_refused_on_the_field(maria, fields, field):
    with pytest.raises(ValidationError) as excinfo:
        services.add_contact(VendorFactory(), user=maria, **{"name": "Fox Mulder", **fields})
    assert field in error_fields(excinfo)
    assert not VendorContact.objects.exists()


def test_a_contact_stays_with_its_vendor(maria):
    contact = VendorContactFactory()
    with pytest.raises(ValidationError) as excinfo:
        services.update_contact(contact, user=maria, vendor=VendorFactory())
    assert error_fields(excinfo) == {"vendor"}


def test_only_managers_write_vendors_and_contacts(alice):
    vendor = VendorFactory(name="Acme")
    contact = VendorContactFactory(vendor=vendor, name="Wile E.")
    with pytest.raises(PermissionDenied):
        services.create_vendor(user=alice, name="Hooli")
    with pytest.raises(PermissionDenied):
        services.update_vendor(vendor, user=alice, notes="x")
    with pytest.raises(PermissionDenied):
        services.delete_vendor(vendor, user=alice)
    with pytest.raises(PermissionDenied):
        services.add_contact(vendor, user=alice, name="Road Runner")
    with pytest.raises(PermissionDenied):
        services.update_contact(contact, user=alice, name="Coyote")
    with pytest.raises(PermissionDenied):
        services.delete_contact(contact, user=alice)
    assert list(Vendor.objects.values_list("name", "notes")) == [("Acme", "")]
    assert list(VendorContact.objects.values_list("name", flat=True)) == ["Wile E."]
