"""The CMDB's REST resources: generic endpoint tests per viewset, then filters, bad input,
class schemas, relationships and the list's query count."""

from itertools import count

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb import services
from cmdb.api.views import CIClassViewSet, CIViewSet, RelationshipTypeViewSet, RelationshipViewSet, TagViewSet
from cmdb.models import CI, AttributeDefinition, CIClass, Relationship, RelationshipType, Tag
from tests.api_testing import APIEndpointTests
from tests.conftest import token_client
from tests.factories import CIClassFactory, CIFactory, RelationshipFactory, TeamFactory, ci_class, relationship_type

pytestmark = pytest.mark.django_db

AGENTS_AND_UP = ("alice", "bob", "maria", "root")
CIS = "/api/v1/cmdb/cis/"
CLASSES = "/api/v1/cmdb/classes/"
RELATIONSHIPS = "/api/v1/cmdb/relationships/"
_numbers = count(1)


@pytest.fixture
def bob_api(bob):
    return token_client(bob)


def make_relationship_type():
    n = next(_numbers)
    return RelationshipType.objects.create(slug=f"mirrors-{n}", forward_label=f"mirrors {n}", reverse_label="mirror of")


def make_tag():
    return Tag.objects.create(name=f"tag-{next(_numbers)}")


def make_ci():
    return CIFactory(owner_team=TeamFactory(name="Network"))


# --- generic endpoint tests ---------------------------------------------------------------------


class TestCIClassAPI(APIEndpointTests):
    viewset = CIClassViewSet
    url_name = "api:cmdb-class"
    make_object = staticmethod(lambda: CIClassFactory())
    create_data = {
        "name": "Tape library",
        "slug": "tape-library",
        "parent": "hardware",
        "attributes": [{"name": "slots", "type": "integer", "required": True}],
    }
    update_data = {"description": "Robotic tape storage."}
    invalid_data = {"attributes": [{"name": "slots", "type": "no-such-type"}]}
    max_list_queries = 9


class TestRelationshipTypeAPI(APIEndpointTests):
    viewset = RelationshipTypeViewSet
    url_name = "api:cmdb-relationship-type"
    make_object = staticmethod(make_relationship_type)
    create_data = {
        "slug": "replicates-to",
        "forward_label": "replicates to",
        "reverse_label": "replica of",
        "propagates_failure": False,
    }
    update_data = {"description": "Asynchronous replication."}
    invalid_data = {"slug": "not a slug!"}


class TestTagAPI(APIEndpointTests):
    viewset = TagViewSet
    url_name = "api:cmdb-tag"
    writers = AGENTS_AND_UP
    make_object = staticmethod(make_tag)
    create_data = {"name": "pci-dss", "description": "In scope of PCI DSS."}
    update_data = {"description": "Cardholder data environment."}
    invalid_data = {"name": "no spaces allowed"}


class TestCIAPI(APIEndpointTests):
    viewset = CIViewSet
    url_name = "api:cmdb-ci"
    writers = AGENTS_AND_UP
    make_object = staticmethod(make_ci)
    create_data = {
        "name": "web-01",
        "ci_class": "linux-server",
        "environment": "staging",
        "fqdn": "web-01.example.com",
        "ip_addresses": ["10.0.0.1"],
        "tags": ["web"],
        "attributes": {"cpu_count": 4},
    }
    update_data = {"status": "maintenance", "criticality": 1}
    invalid_data = {"ip_addresses": ["10.0.0.300"]}


class TestRelationshipAPI(APIEndpointTests):
    viewset = RelationshipViewSet
    url_name = "api:cmdb-relationship"
    writers = AGENTS_AND_UP
    make_object = staticmethod(lambda: RelationshipFactory())
    create_data = staticmethod(lambda: {"source": CIFactory().pk, "target": CIFactory().pk, "type": "depends-on"})
    update_data = {"description": "Through the primary."}
    invalid_data = {"type": "no-such-type"}


# --- CIs ------------------------------------------------------------------------------------


def names(response):
    assert response.status_code == 200, response.content
    return sorted(item["name"] for item in response.json()["results"])


def test_the_class_filter_includes_subclasses(victor_api):
    CIFactory(name="lnx-01", ci_class=ci_class("linux-server"))
    CIFactory(name="win-01", ci_class=ci_class("windows-server"))
    CIFactory(name="sw-01", ci_class=ci_class("switch"))
    CIFactory(name="billing", ci_class=ci_class("application"))
    assert names(victor_api.get(CIS, {"ci_class": ci_class("server").pk})) == ["lnx-01", "win-01"]
    assert names(victor_api.get(CIS, {"ci_class": ci_class("hardware").pk})) == ["lnx-01", "sw-01", "win-01"]
    assert names(victor_api.get(CIS, {"ci_class": ci_class("linux-server").pk})) == ["lnx-01"]


def test_status_environment_criticality_team_tag_and_q_filters(victor_api, network_team, database_team):
    CIFactory(name="a", status="active", environment="production", criticality=1, owner_team=network_team, tags=["pci"])
    CIFactory(name="b", status="retired", environment="test", criticality=3, owner_team=database_team, tags=["lab"])
    CIFactory(name="c", status="maintenance", environment="production", criticality=2, fqdn="c.corp.example.com")
    assert names(victor_api.get(CIS, {"status": ["active", "maintenance"]})) == ["a", "c"]
    assert names(victor_api.get(CIS, {"environment": "test"})) == ["b"]
    assert names(victor_api.get(CIS, {"criticality": [1, 2]})) == ["a", "c"]
    assert names(victor_api.get(CIS, {"owner_team": database_team.pk})) == ["b"]
    assert names(victor_api.get(CIS, {"tag": "pci"})) == ["a"]
    assert names(victor_api.get(CIS, {"q": "corp.example"})) == ["c"]
    response = victor_api.get(CIS, {"status": "exploded"})
    assert response.status_code == 400 and "status" in response.json()


def test_a_ci_is_created_with_class_by_slug_tags_by_name_and_normalised_addresses(alice_api, network_team):
    Tag.objects.create(name="Web")
    response = alice_api.post(
        CIS,
        {
            "name": "db-01",
            "ci_class": "linux-server",
            "owner_team": network_team.pk,
            "fqdn": "DB-01.Example.com.",
            "ip_addresses": ["2001:DB8::1", "10.0.0.7", "10.0.0.7"],
            "tags": ["web", "new-tag"],
            "attributes": {"cpu_count": 8, "kernel": "6.1.0"},
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["ci_class"] == ci_class("linux-server").pk
    assert body["ci_class_name"] == "Linux server"
    assert body["owner_team_name"] == "Network"
    assert body["fqdn"] == "db-01.example.com"
    assert body["ip_addresses"] == ["2001:db8::1", "10.0.0.7"]
    assert sorted(body["tags"]) == sorted(["new-tag", "Web"])
    assert body["attributes"] == {"cpu_count": 8, "kernel": "6.1.0"}
    assert body["url"].endswith(f"/api/v1/cmdb/cis/{body['id']}/")
    assert Tag.objects.filter(name="new-tag").exists()

    response = alice_api.patch(f"{CIS}{body['id']}/", {"tags": ["lab"], "ci_class": ci_class("server").pk})
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == ["lab"]
    assert response.json()["ci_class_name"] == "Server"


def test_an_attribute_of_the_wrong_type_is_a_400_naming_it_and_nothing_is_written(alice_api):
    before = (CI.objects.count(), Tag.objects.count())
    response = alice_api.post(
        CIS,
        {"name": "db-02", "ci_class": "linux-server", "tags": ["brand-new"], "attributes": {"cpu_count": "eight"}},
        format="json",
    )
    assert response.status_code == 400
    [message] = response.json()["attributes"]
    assert "cpu_count" in message and "whole number" in message
    assert (CI.objects.count(), Tag.objects.count()) == before


def test_an_unknown_attribute_and_a_missing_required_one_are_named(maria_api, alice_api):
    schema = [{"name": "rack", "type": "string", "required": True}]
    response = maria_api.post(CLASSES, {"name": "Blade", "slug": "blade", "parent": "server", "attributes": schema})
    assert response.status_code == 201, response.content
    response = alice_api.post(CIS, {"name": "b1", "ci_class": "blade", "attributes": {"colour": "red"}})
    assert response.status_code == 400
    messages = " ".join(response.json()["attributes"])
    assert "colour: not an attribute" in messages and "rack: required" in messages


def test_an_update_that_breaks_the_schema_leaves_the_ci_as_it_was(alice_api):
    ci = CIFactory(ci_class=ci_class("linux-server"), attributes={"cpu_count": 2})
    response = alice_api.patch(f"{CIS}{ci.pk}/", {"name": "renamed", "attributes": {"cpu_count": 2.5}})
    assert response.status_code == 400 and "cpu_count" in response.json()["attributes"][0]
    ci.refresh_from_db()
    assert (ci.name, ci.attributes) != ("renamed", {"cpu_count": 2.5})


@pytest.mark.parametrize("value", ["no-such-class", 999999])
def test_an_unknown_class_is_a_400_naming_it(alice_api, value):
    response = alice_api.post(CIS, {"name": "x", "ci_class": value}, format="json")
    assert response.status_code == 400
    assert str(value) in response.json()["ci_class"][0]
    assert not CI.objects.filter(name="x").exists()


@pytest.mark.parametrize("addresses", [["10.0.0.256"], ["fe80::zz"], "10.0.0.1"])
def test_a_malformed_ip_address_is_a_400(alice_api, addresses):
    response = alice_api.post(CIS, {"name": "x", "ci_class": "application", "ip_addresses": addresses}, format="json")
    assert response.status_code == 400
    assert "ip_addresses" in response.json()
    assert not CI.objects.filter(name="x").exists()


def test_duplicates_are_400s_naming_the_field(alice_api):
    CIFactory(name="Billing", ci_class=ci_class("application"), serial_number="SN1")
    response = alice_api.post(CIS, {"name": "billing", "ci_class": "application"})
    assert response.status_code == 400 and "name" in response.json()
    response = alice_api.post(CIS, {"name": "other", "ci_class": "application", "serial_number": "SN1"})
    assert response.status_code == 400 and "serial_number" in response.json()


def test_the_list_answers_in_a_constant_number_of_queries_whatever_the_page_size(alice_api, network_team):
    for i in range(60):
        CIFactory(name=f"host-{i:02d}", owner_team=network_team, tags=["prod", f"rack-{i % 4}"])
    alice_api.get(CIS)  # the token's last-used time is recorded once a minute: not in the counts
    counts = []
    for size in (5, 50):
        with CaptureQueriesContext(connection) as queries:
            response = alice_api.get(CIS, {"page_size": size})
        assert len(response.json()["results"]) == size
        assert all(item["tags"] for item in response.json()["results"])
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 8


def test_deleting_a_ci_deletes_its_relationships(alice_api):
    relationship = RelationshipFactory()
    response = alice_api.delete(f"{CIS}{relationship.source_id}/")
    assert response.status_code == 204
    assert not Relationship.objects.filter(pk=relationship.pk).exists()


def test_the_relationships_of_a_ci_are_listed_both_ways_with_labels_read_from_it(victor_api):
    app, vm, host = (CIFactory(name=n) for n in ("app", "vm", "host"))
    RelationshipFactory(source=app, target=vm, type=relationship_type("runs-on"))
    RelationshipFactory(source=vm, target=host, type=relationship_type("runs-on"))
    response = victor_api.get(f"{CIS}{vm.pk}/relationships/")
    assert response.status_code == 200, response.content
    rows = [(r["direction"], r["label"], r["ci"]["name"]) for r in response.json()["results"]]
    assert rows == [("outgoing", "runs on", "host"), ("incoming", "hosts", "app")]
    assert response.json()["results"][0]["type_slug"] == "runs-on"


# --- relationships ---------------------------------------------------------------------------


def test_a_relationship_is_created_with_a_type_slug_and_read_with_names_and_label(bob_api):
    app, db = CIFactory(name="billing"), CIFactory(name="billing-db")
    response = bob_api.post(RELATIONSHIPS, {"source": app.pk, "target": db.pk, "type": "depends-on"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == relationship_type("depends-on").pk
    assert (body["source_name"], body["label"], body["target_name"]) == ("billing", "depends on", "billing-db")
    assert body["reverse_label"] == "used by"


def test_a_relationship_to_itself_is_a_400_on_target(bob_api):
    ci = CIFactory()
    response = bob_api.post(RELATIONSHIPS, {"source": ci.pk, "target": ci.pk, "type": "depends-on"})
    assert response.status_code == 400
    assert "itself" in response.json()["target"][0]
    assert not Relationship.objects.exists()


def test_an_unknown_relationship_type_is_a_400_naming_it(bob_api):
    a, b = CIFactory(), CIFactory()
    response = bob_api.post(RELATIONSHIPS, {"source": a.pk, "target": b.pk, "type": "loves"})
    assert response.status_code == 400
    assert "loves" in response.json()["type"][0]


def test_an_exact_duplicate_relationship_is_a_400_not_a_conflict(bob_api):
    existing = RelationshipFactory()
    payload = {"source": existing.source_id, "target": existing.target_id, "type": "depends-on"}
    response = bob_api.post(RELATIONSHIPS, payload)
    assert response.status_code == 400
    assert "already related" in response.json()["target"][0]
    # The same two CIs may be related another way, and the other way round.
    assert bob_api.post(RELATIONSHIPS, payload | {"type": "connected-to"}).status_code == 201
    reverse = {"source": existing.target_id, "target": existing.source_id, "type": "depends-on"}
    assert bob_api.post(RELATIONSHIPS, reverse).status_code == 201


def test_a_duplicate_that_slips_past_validation_is_still_a_400_from_the_constraint(monkeypatch):
    existing = RelationshipFactory()
    # As when two requests create the same link at once: both validate before either saves.
    monkeypatch.setattr(Relationship, "validate_constraints", lambda self, exclude=None: None)
    with pytest.raises(ValidationError) as caught:
        services.relate(existing.source, existing.type, existing.target)
    assert "already related" in caught.value.message_dict["target"][0]
    assert Relationship.objects.count() == 1


def test_an_edit_into_a_duplicate_is_a_400(bob_api):
    existing = RelationshipFactory()
    other = RelationshipFactory(source=existing.source, type=relationship_type("runs-on"), target=existing.target)
    response = bob_api.patch(f"{RELATIONSHIPS}{other.pk}/", {"type": "depends-on"})
    assert response.status_code == 400 and "target" in response.json()
    other.refresh_from_db()
    assert other.type.slug == "runs-on"


def test_relationships_filter_by_either_end_and_type_slug(victor_api):
    a, b, c = CIFactory(), CIFactory(), CIFactory()
    first = RelationshipFactory(source=a, target=b)
    second = RelationshipFactory(source=c, target=a, type=relationship_type("runs-on"))
    RelationshipFactory(source=b, target=c)
    ids = [r["id"] for r in victor_api.get(RELATIONSHIPS, {"ci": a.pk, "ordering": "id"}).json()["results"]]
    assert ids == [first.pk, second.pk]
    ids = [r["id"] for r in victor_api.get(RELATIONSHIPS, {"ci": a.pk, "type": "runs-on"}).json()["results"]]
    assert ids == [second.pk]


def test_a_relationship_type_in_use_cannot_be_deleted(maria_api):
    RelationshipFactory()
    response = maria_api.delete(f"/api/v1/cmdb/relationship-types/{relationship_type('depends-on').pk}/")
    assert response.status_code == 409


# --- classes and their schemas -------------------------------------------------------------------


def test_a_class_schema_is_written_and_the_inherited_one_shown_in_effective_attributes(maria_api):
    response = maria_api.post(
        CLASSES,
        {
            "name": "Database server",
            "slug": "database-server",
            "parent": "linux-server",
            "attributes": [
                {"name": "engine", "type": "choice", "choices": ["postgresql", "mysql"], "required": True},
                {"name": "data_volume", "label": "Data volume", "type": "string"},
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["parent"] == ci_class("linux-server").pk
    assert [a["name"] for a in body["attributes"]] == ["engine", "data_volume"]
    assert [a["order"] for a in body["attributes"]] == [0, 1]
    effective = {a["name"]: a for a in body["effective_attributes"]}
    assert effective["cpu_count"]["ci_class"]["slug"] == "server"
    assert effective["cpu_count"]["inherited"] is True
    assert effective["engine"]["ci_class"]["slug"] == "database-server"
    assert effective["engine"]["inherited"] is False
    assert [a["name"] for a in body["effective_attributes"]][-2:] == ["engine", "data_volume"]

    detail = maria_api.get(f"{CLASSES}{ci_class('server').pk}/").json()
    assert "engine" not in {a["name"] for a in detail["effective_attributes"]}
    assert {a["name"] for a in detail["attributes"]} >= {"cpu_count", "memory_mb"}
    assert {a["name"] for a in detail["effective_attributes"]} >= {"rack_unit", "cpu_count"}


def test_writing_attributes_replaces_the_own_schema_keeping_the_definitions_it_names(maria_api):
    ci_cls = CIClassFactory(name="Printer", slug="printer")
    keep = AttributeDefinition.objects.create(ci_class=ci_cls, name="colour", type="boolean", label="Colour")
    AttributeDefinition.objects.create(ci_class=ci_cls, name="duplex", type="boolean")
    response = maria_api.patch(
        f"{CLASSES}{ci_cls.pk}/", {"attributes": [{"name": "ppm", "type": "integer"}, {"name": "colour"}]}
    )
    assert response.status_code == 200, response.content
    assert [(a["name"], a["type"], a["label"]) for a in response.json()["attributes"]] == [
        ("ppm", "integer", ""),
        ("colour", "string", ""),
    ]
    assert sorted(ci_cls.attribute_definitions.values_list("name", flat=True)) == ["colour", "ppm"]
    assert ci_cls.attribute_definitions.get(name="colour").pk == keep.pk
    # A write without attributes leaves the schema alone.
    assert maria_api.patch(f"{CLASSES}{ci_cls.pk}/", {"description": "Office printers"}).status_code == 200
    assert ci_cls.attribute_definitions.count() == 2


def test_schema_errors_name_the_item(maria_api):
    ci_cls = CIClassFactory(name="Printer", slug="printer")
    response = maria_api.patch(
        f"{CLASSES}{ci_cls.pk}/",
        {
            "attributes": [
                {"name": "ppm", "type": "integer"},
                {"name": "paper", "type": "choice"},
                {"name": "ppm", "type": "string"},
                {"name": "Bad Name"},
                {"name": "tray", "type": "string", "choices": ["a"]},
                {"name": "x", "type": "nope"},
            ]
        },
    )
    assert response.status_code == 400
    errors = response.json()["attributes"]
    assert set(errors) == {"3", "5"}
    assert "name" in errors["3"]
    assert "type" in errors["5"]
    assert not ci_cls.attribute_definitions.exists()
    # Once every item is well-formed on its own, the checks across items and on the model's rules run.
    response = maria_api.patch(
        f"{CLASSES}{ci_cls.pk}/",
        {
            "attributes": [
                {"name": "ppm", "type": "integer"},
                {"name": "paper", "type": "choice"},
                {"name": "ppm", "type": "string"},
                {"name": "tray", "type": "string", "choices": ["a"]},
                {"name": "size", "type": "choice", "choices": ["a4", "a4"]},
            ]
        },
    )
    assert response.status_code == 400
    errors = response.json()["attributes"]
    assert set(errors) == {"1", "2", "3", "4"}
    assert "needs a list of allowed values" in errors["1"]["choices"][0]
    assert "more than once" in errors["2"]["name"][0]
    assert "Only a choice attribute" in errors["3"]["choices"][0]
    assert "distinct" in errors["4"]["choices"][0]
    assert not ci_cls.attribute_definitions.exists()


def test_an_attribute_the_class_inherits_or_passes_on_cannot_be_defined_again(maria_api):
    response = maria_api.post(
        CLASSES, {"name": "Big server", "slug": "big-server", "parent": "server", "attributes": [{"name": "cpu_count"}]}
    )
    assert response.status_code == 400
    assert "Server" in response.json()["attributes"]["0"]["name"][0]
    assert not CIClass.objects.filter(slug="big-server").exists()
    response = maria_api.patch(f"{CLASSES}{ci_class('hardware').pk}/", {"attributes": [{"name": "memory_mb"}]})
    assert response.status_code == 400
    assert "memory_mb" in response.json()["attributes"]["0"]["name"][0]


def test_a_class_cannot_move_below_a_class_whose_attributes_clash_or_below_itself(maria_api):
    response = maria_api.patch(f"{CLASSES}{ci_class('virtual-machine').pk}/", {"parent": "server"})
    assert response.status_code == 400
    assert "cpu_count" in " ".join(response.json()["parent"])
    response = maria_api.patch(f"{CLASSES}{ci_class('hardware').pk}/", {"parent": "linux-server"})
    assert response.status_code == 400 and "parent" in response.json()
    assert ci_class("hardware").parent_id is None


def test_a_class_below_a_business_service_is_one_too(maria_api):
    response = maria_api.post(CLASSES, {"name": "Customer portal", "slug": "portal", "parent": "business-service"})
    assert response.status_code == 201, response.content
    assert response.json()["is_business_service"] is True


def test_agents_cannot_write_classes(alice_api):
    response = alice_api.post(CLASSES, {"name": "Sneaky", "slug": "sneaky"})
    assert response.status_code == 403
    response = alice_api.patch(f"{CLASSES}{ci_class('server').pk}/", {"attributes": []})
    assert response.status_code == 403
    assert ci_class("server").attribute_definitions.exists()


def test_a_class_in_use_cannot_be_deleted(maria_api):
    CIFactory(ci_class=ci_class("application"))
    assert maria_api.delete(f"{CLASSES}{ci_class('application').pk}/").status_code == 409
    assert maria_api.delete(f"{CLASSES}{ci_class('server').pk}/").status_code == 409  # has subclasses


def test_the_class_list_stays_at_a_constant_number_of_queries(maria_api):
    maria_api.get(CLASSES)  # the token's last-used time is recorded once a minute: not in the counts
    counts = []
    for size in (5, 15):
        with CaptureQueriesContext(connection) as queries:
            response = maria_api.get(CLASSES, {"page_size": size})
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
