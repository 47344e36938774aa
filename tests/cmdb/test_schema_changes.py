"""A class's schema stays true of its CIs: a change the existing CIs would fail is refused,
naming them, and writes nothing (cmdb.services.save_class)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from cmdb import services
from cmdb.choices import AttributeType
from cmdb.models import AttributeDefinition, CIClass
from tests.factories import CIFactory, ci_class

pytestmark = pytest.mark.django_db


@pytest.fixture
def printer():
    cls = services.save_class(
        CIClass(name="Printer", slug="printer"),
        attributes=[AttributeDefinition(name="pages_per_minute", type=AttributeType.INTEGER)],
    )
    CIFactory(name="prn-01", ci_class=cls, attributes={"pages_per_minute": 40})
    CIFactory(name="prn-02", ci_class=cls)
    return cls


def own(cls):
    return list(cls.attribute_definitions.all())


def test_a_new_required_attribute_the_cis_lack_is_refused_naming_them(printer):
    toner = AttributeDefinition(name="toner", type=AttributeType.STRING, required=True)
    with pytest.raises(ValidationError) as caught:
        services.save_class(printer, attributes=[*own(printer), toner])
    message = caught.value.message_dict["attributes"][0]
    assert message.startswith("2 CIs of this class or its subclasses would no longer fit the schema")
    assert "prn-01 (toner: required by class “Printer”.)" in message
    assert not AttributeDefinition.objects.filter(name="toner").exists()


def test_a_type_the_existing_values_dont_fit_is_refused(printer):
    ppm = printer.attribute_definitions.get()
    ppm.type = AttributeType.BOOLEAN
    with pytest.raises(ValidationError, match="1 CI of this class"):
        services.save_class(printer, attributes=[ppm])
    assert printer.attribute_definitions.get().type == AttributeType.INTEGER


def test_removing_an_attribute_the_cis_still_use_is_refused_until_they_are_cleared(printer):
    with pytest.raises(ValidationError, match=r"prn-01 \(pages_per_minute: not an attribute"):
        services.save_class(printer, attributes=[])
    first = printer.cis.get(name="prn-01")
    first.attributes = {}
    services.save_ci(first)
    services.save_class(printer, attributes=[])
    assert not printer.attribute_definitions.exists()


def test_subclasses_cis_count_too_and_a_fitting_change_passes():
    server = ci_class("server")
    CIFactory(name="db01", ci_class=ci_class("linux-server"), attributes={"cpu_count": 8})
    required = [*own(server), AttributeDefinition(name="power_supplies", type=AttributeType.INTEGER, required=True)]
    with pytest.raises(ValidationError, match="db01"):
        services.save_class(server, attributes=required)
    optional = [*own(server), AttributeDefinition(name="power_supplies", type=AttributeType.INTEGER)]
    services.save_class(server, attributes=optional)
    assert "power_supplies" in {d.name for d in ci_class("linux-server").effective_attributes()}


def test_the_api_answers_400_on_attributes_and_writes_nothing(maria_api, printer):
    url = reverse("api:cmdb-class-detail", args=[printer.pk])
    payload = {"attributes": [{"name": "pages_per_minute", "type": "integer"}, {"name": "toner", "required": True}]}
    response = maria_api.patch(url, payload, format="json")
    assert response.status_code == 400
    assert "would no longer fit the schema" in str(response.json()["attributes"])
    assert list(printer.attribute_definitions.values_list("name", flat=True)) == ["pages_per_minute"]
