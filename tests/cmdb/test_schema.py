"""Attribute schemas: typed definitions per class, inherited by subclasses, enforced on CIs."""

import pytest
from django.core.exceptions import ValidationError

from cmdb.choices import AttributeType
from cmdb.models import CI, AttributeDefinition, CIClass
from cmdb.schema import check_value, coerce
from tests.factories import CIFactory, ci_class

pytestmark = pytest.mark.django_db


def definition(kind, **kwargs):
    return AttributeDefinition(name="x", type=kind, **kwargs)


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        (AttributeType.STRING, "abc", "abc"),
        (AttributeType.INTEGER, 8, 8),
        (AttributeType.INTEGER, 8.0, 8),
        (AttributeType.NUMBER, 1.5, 1.5),
        (AttributeType.NUMBER, 2, 2),
        (AttributeType.BOOLEAN, False, False),
        (AttributeType.DATE, "2027-02-28", "2027-02-28"),
        (AttributeType.IP, "2001:DB8::0:1", "2001:db8::1"),
        (AttributeType.IP, "10.0.0.1", "10.0.0.1"),
    ],
)
def test_values_of_the_right_type_are_stored_normalised(kind, value, stored):
    assert check_value(definition(kind), value) == stored


@pytest.mark.parametrize(
    ("kind", "value", "reason"),
    [
        (AttributeType.STRING, 5, "expected text"),
        (AttributeType.INTEGER, "8", "whole number"),
        (AttributeType.INTEGER, True, "whole number"),
        (AttributeType.INTEGER, 2.5, "whole number"),
        (AttributeType.NUMBER, "1.5", "a number"),
        (AttributeType.NUMBER, float("nan"), "a number"),
        (AttributeType.BOOLEAN, "yes", "true or false"),
        (AttributeType.DATE, "2027-02-30", "YYYY-MM-DD"),
        (AttributeType.DATE, 20270228, "YYYY-MM-DD"),
        (AttributeType.IP, "10.0.0.256", "not a valid IPv4 or IPv6"),
    ],
)
def test_values_of_the_wrong_type_are_refused_with_the_reason(kind, value, reason):
    with pytest.raises(ValueError, match=reason):
        check_value(definition(kind), value)


def test_choices_must_be_one_of_the_allowed_values():
    engine = definition(AttributeType.CHOICE, choices=["postgresql", "mysql"])
    assert check_value(engine, "mysql") == "mysql"
    with pytest.raises(ValueError, match="not one of the choices"):
        check_value(engine, "db2")


def test_text_is_coerced_to_the_attribute_type():
    assert coerce(definition(AttributeType.INTEGER), " 16 ") == 16
    assert coerce(definition(AttributeType.NUMBER), "2.5") == 2.5
    assert coerce(definition(AttributeType.BOOLEAN), "Yes") is True
    assert coerce(definition(AttributeType.BOOLEAN), "0") is False
    assert coerce(definition(AttributeType.INTEGER), "") is None
    with pytest.raises(ValueError, match="whole number"):
        coerce(definition(AttributeType.INTEGER), "sixteen")


def test_subclasses_inherit_their_ancestors_attributes():
    names = [d.name for d in ci_class("linux-server").effective_attributes()]
    # Hardware's rack_unit, then Server's compute attributes; Linux server adds none of its own.
    assert names[0] == "rack_unit"
    assert {"cpu_count", "memory_mb", "kernel", "architecture"} <= set(names)


def test_a_ci_is_validated_against_its_class_schema():
    ci = CI(name="db01", ci_class=ci_class("linux-server"), attributes={"cpu_count": "eight", "colour": "red"})
    with pytest.raises(ValidationError) as caught:
        ci.full_clean()
    messages = caught.value.message_dict["attributes"]
    assert any(m.startswith("cpu_count: expected a whole number") for m in messages)
    assert any(m.startswith("colour: not an attribute of class “Linux server”") for m in messages)


def test_required_attributes_must_be_given():
    cls = CIClass.objects.create(name="Printer", slug="printer")
    AttributeDefinition.objects.create(ci_class=cls, name="toner", type=AttributeType.STRING, required=True)
    with pytest.raises(ValidationError, match="toner: required"):
        CI(name="p1", ci_class=cls).full_clean()
    ci = CI(name="p1", ci_class=cls, attributes={"toner": "black"})
    ci.full_clean()


def test_an_attribute_name_cant_clash_with_an_inherited_one():
    clash = AttributeDefinition(ci_class=ci_class("linux-server"), name="cpu_count", type=AttributeType.INTEGER)
    with pytest.raises(ValidationError, match=r"Server.*already defines"):
        clash.full_clean()


def test_a_choice_attribute_needs_choices_and_others_none():
    cls = ci_class("application")
    with pytest.raises(ValidationError, match="needs a list of allowed values"):
        AttributeDefinition(ci_class=cls, name="tier", type=AttributeType.CHOICE).full_clean()
    with pytest.raises(ValidationError, match="Only a choice attribute"):
        AttributeDefinition(ci_class=cls, name="tier", type=AttributeType.STRING, choices=["a"]).full_clean()


def test_a_class_cant_be_moved_below_its_own_subclass():
    hardware = ci_class("hardware")
    hardware.parent = ci_class("linux-server")
    with pytest.raises(ValidationError, match="below itself"):
        hardware.full_clean()


def test_a_subclass_of_a_business_service_is_a_business_service():
    sub = CIClass(name="Customer-facing service", slug="customer-service", parent=ci_class("business-service"))
    sub.full_clean()
    assert sub.is_business_service


def test_descendant_ids_cover_the_whole_subtree():
    ids = set(CIClass.objects.descendant_ids(ci_class("hardware").pk))
    expected = {"hardware", "server", "linux-server", "windows-server", "network-device", "switch", "router"}
    assert {c.pk for c in CIClass.objects.filter(slug__in=expected)} <= ids
    assert ci_class("virtual-machine").pk not in ids


def test_a_valid_ci_keeps_its_attributes_typed():
    ci = CIFactory(ci_class=ci_class("database"), attributes={"engine": "postgresql", "port": 5432})
    ci.full_clean()
    ci.refresh_from_db()
    assert ci.attributes == {"engine": "postgresql", "port": 5432}
