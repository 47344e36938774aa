"""CI invariants: IP addresses, host names, the uniqueness rules, relationships."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from cmdb import services
from cmdb.choices import Environment
from cmdb.models import CI, Relationship
from itom.models import ObjectChange
from tests.factories import CIFactory, ci_class, relationship_type

pytestmark = pytest.mark.django_db


def new_ci(**kwargs):
    kwargs.setdefault("ci_class", ci_class("linux-server"))
    return CI(**kwargs)


def test_ip_addresses_are_validated_normalised_and_deduplicated():
    ci = new_ci(name="web01", ip_addresses=["10.0.0.5", "2001:DB8:0::10", "10.0.0.5"])
    ci.full_clean()
    assert ci.ip_addresses == ["10.0.0.5", "2001:db8::10"]
    ci = new_ci(name="web02", ip_addresses="10.0.0.6, 10.0.0.7")
    ci.full_clean()
    assert ci.ip_addresses == ["10.0.0.6", "10.0.0.7"]


def test_a_malformed_ip_address_is_named_in_the_error():
    with pytest.raises(ValidationError) as caught:
        new_ci(name="web01", ip_addresses=["10.0.0.5", "10.0.0.300"]).full_clean()
    assert "'10.0.0.300'" in caught.value.message_dict["ip_addresses"][0]


def test_the_fqdn_must_be_a_host_name_and_is_stored_lower_case():
    ci = new_ci(name="web01", fqdn="Web01.Example.COM.")
    ci.full_clean()
    assert ci.fqdn == "web01.example.com"
    with pytest.raises(ValidationError) as caught:
        new_ci(name="web02", fqdn="web 02.example.com").full_clean()
    assert "fqdn" in caught.value.message_dict


def test_a_serial_number_belongs_to_one_ci():
    CIFactory(name="a", serial_number="SN123")
    with pytest.raises(ValidationError) as caught:
        new_ci(name="b", serial_number="SN123").full_clean()
    assert caught.value.message_dict["serial_number"] == ["Another CI has this serial number."]
    new_ci(name="c", serial_number="").full_clean()  # blank serials don't clash


def test_an_fqdn_is_unique_within_an_environment_only():
    CIFactory(name="a", fqdn="app.example.com", environment=Environment.PRODUCTION)
    with pytest.raises(ValidationError) as caught:
        new_ci(name="b", fqdn="APP.example.com", environment=Environment.PRODUCTION).full_clean()
    assert "fqdn" in caught.value.message_dict
    new_ci(name="b", fqdn="app.example.com", environment=Environment.STAGING).full_clean()


def test_a_name_is_unique_within_a_class_ignoring_case():
    CIFactory(name="billing", ci_class=ci_class("application"))
    with pytest.raises(ValidationError) as caught:
        CI(name="Billing", ci_class=ci_class("application")).full_clean()
    assert "name" in caught.value.message_dict
    CI(name="billing", ci_class=ci_class("database")).full_clean()


def test_the_database_backs_the_uniqueness_rules():
    CIFactory(name="a", serial_number="SN9")
    with pytest.raises(IntegrityError), transaction.atomic():
        CI.objects.create(name="b", ci_class=ci_class("application"), serial_number="SN9")


def test_a_ci_cant_be_related_to_itself_or_twice_the_same_way():
    a, b = CIFactory(name="a"), CIFactory(name="b")
    depends = relationship_type("depends-on")
    with pytest.raises(ValidationError) as caught:
        services.relate(a, depends, a)
    assert caught.value.message_dict["target"] == ["A CI can't be related to itself."]
    services.relate(a, depends, b)
    with pytest.raises(ValidationError) as caught:
        services.relate(a, depends, b)
    assert caught.value.message_dict["target"] == ["These two CIs are already related this way."]
    services.relate(a, relationship_type("backed-up-by"), b)  # another type is another relationship
    assert Relationship.objects.filter(source=a, target=b).count() == 2


def test_deleting_a_ci_deletes_and_audits_its_relationships():
    a, b = CIFactory(name="a"), CIFactory(name="b")
    link = services.relate(a, relationship_type("runs-on"), b)
    services.delete_ci(b)
    assert not Relationship.objects.filter(pk=link.pk).exists()
    assert ObjectChange.objects.filter(object_repr="a runs on b", action="delete").exists()


def test_save_ci_sets_tags_by_name_creating_new_ones():
    ci = services.save_ci(new_ci(name="web01"), tags=["web", "pci"])
    assert sorted(ci.tags.values_list("name", flat=True)) == ["pci", "web"]
    services.save_ci(ci, tags=["WEB"])
    assert list(ci.tags.values_list("name", flat=True)) == ["web"]


def test_ansible_host_prefers_the_fqdn_then_the_first_ip():
    assert new_ci(name="a", fqdn="a.example.com", ip_addresses=["10.0.0.1"]).ansible_host == "a.example.com"
    assert new_ci(name="a", ip_addresses=["10.0.0.1"]).ansible_host == "10.0.0.1"
    assert new_ci(name="a").ansible_host == "a"


def test_the_one_query_constraint_check_covers_every_constraint_of_a_ci():
    """CI.may_break_a_constraint restates Meta.constraints: a new constraint must be added there."""
    covered = set(CI.CONSTRAINT_FIELDS) | {"cmdb_ci_criticality_range"}
    assert {c.name for c in CI._meta.constraints} == covered
