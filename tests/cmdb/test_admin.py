"""The CMDB in the admin console: managers browse and edit it; other roles are kept out."""

import pytest

from cmdb.models import CI, AttributeDefinition, CIClass, Relationship
from itom.models import ObjectChange
from tests.factories import CIFactory, RelationshipFactory, TeamFactory, ci_class, relationship_type

pytestmark = pytest.mark.django_db

MODELS = ["ciclass", "ci", "relationshiptype", "relationship", "tag"]


def inline_data(rows, initial=0, prefix="attribute_definitions"):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for index, row in enumerate(rows):
        for key, value in {"type": "string", "order": "0", **row}.items():
            data[f"{prefix}-{index}-{key}"] = value
    return data


@pytest.mark.parametrize("model", MODELS)
def test_a_manager_opens_each_changelist_and_add_page(maria_client, model):
    RelationshipFactory(source=CIFactory(tags=["pci"]))
    assert maria_client.get(f"/admin/cmdb/{model}/").status_code == 200
    assert maria_client.get(f"/admin/cmdb/{model}/add/").status_code == 200


@pytest.mark.parametrize("who", ["alice", "victor"])
@pytest.mark.parametrize("model", MODELS)
def test_agents_and_viewers_are_kept_out(client, people, who, model):
    client.force_login(people[who])
    for url in (f"/admin/cmdb/{model}/", f"/admin/cmdb/{model}/add/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url


def test_the_ci_changelist_filters_searches_and_stays_at_a_constant_query_count(
    maria_client, django_assert_max_num_queries
):
    team = TeamFactory(name="Network")
    CIFactory(name="core-sw-01", ci_class=ci_class("switch"), owner_team=team, serial_number="SN-778")
    CIFactory.create_batch(40, owner_team=team)
    body = maria_client.get("/admin/cmdb/ci/", {"q": "SN-778"}).content.decode()
    assert "core-sw-01" in body and "1 result" in body
    with django_assert_max_num_queries(15):
        page = maria_client.get("/admin/cmdb/ci/")
    assert page.status_code == 200 and "Network" in page.content.decode()
    assert maria_client.get("/admin/cmdb/ci/", {"environment__exact": "production"}).status_code == 200


def test_the_class_and_team_pickers_autocomplete(maria_client):
    TeamFactory(name="Network")
    response = maria_client.get(
        "/admin/autocomplete/",
        {"app_label": "cmdb", "model_name": "ci", "field_name": "ci_class", "term": "linux"},
    )
    assert [r["text"] for r in response.json()["results"]] == ["Linux server"]
    response = maria_client.get(
        "/admin/autocomplete/",
        {"app_label": "cmdb", "model_name": "ci", "field_name": "owner_team", "term": "netw"},
    )
    assert [r["text"] for r in response.json()["results"]] == ["Network"]


def test_a_manager_adds_a_class_with_attributes_in_the_admin(maria_client):
    data = {
        "name": "Blade server",
        "slug": "blade-server",
        "parent": ci_class("server").pk,
        "description": "",
        **inline_data([{"name": "chassis"}, {"name": "size", "type": "choice", "choices": "half, full"}]),
    }
    response = maria_client.post("/admin/cmdb/ciclass/add/", data)
    assert response.status_code == 302, response.context and response.context["errors"]
    blade = CIClass.objects.get(slug="blade-server")
    assert {d.name: d.choices for d in blade.attribute_definitions.all()} == {"chassis": [], "size": ["half", "full"]}
    # One service call: the class is created once, not created and then saved again.
    assert list(ObjectChange.objects.filter(object_repr="Blade server").values_list("action", flat=True)) == ["create"]


def test_an_inherited_name_is_refused_in_the_admin_too(maria_client):
    data = {
        "name": "Blade server",
        "slug": "blade-server",
        "parent": ci_class("server").pk,
        "description": "",
        **inline_data([{"name": "cpu_count", "type": "integer"}]),
    }
    response = maria_client.post("/admin/cmdb/ciclass/add/", data)
    assert response.status_code == 200
    assert "already defines “cpu_count”" in response.content.decode()
    assert not CIClass.objects.filter(slug="blade-server").exists()


def test_editing_a_class_in_the_admin_deletes_the_rows_marked_for_deletion(maria_client):
    app = ci_class("application")
    definitions = list(app.attribute_definitions.order_by("order"))
    rows = [
        {
            "id": str(d.pk),
            "ci_class": str(app.pk),
            "name": d.name,
            "label": d.label,
            "type": d.type,
            "order": str(d.order),
            **({"DELETE": "on"} if d.name == "url" else {}),
        }
        for d in definitions
    ]
    data = {"name": "Application", "slug": "application", "description": "", **inline_data(rows, initial=len(rows))}
    response = maria_client.post(f"/admin/cmdb/ciclass/{app.pk}/change/", data)
    assert response.status_code == 302
    assert set(app.attribute_definitions.values_list("name", flat=True)) == {"version", "port"}
    assert not AttributeDefinition.objects.filter(pk=next(d.pk for d in definitions if d.name == "url")).exists()


def test_a_ci_added_in_the_admin_is_validated_against_its_class(maria_client):
    linux = ci_class("linux-server")
    data = {
        "name": "web-01",
        "ci_class": linux.pk,
        "status": "active",
        "environment": "production",
        "criticality": "2",
        "ip_addresses": '["10.0.0.1"]',
        "attributes": '{"cpu_count": "many"}',
    }
    response = maria_client.post("/admin/cmdb/ci/add/", data)
    assert response.status_code == 200 and not CI.objects.filter(name="web-01").exists()
    data["attributes"] = '{"cpu_count": 8}'
    assert maria_client.post("/admin/cmdb/ci/add/", data).status_code == 302
    assert CI.objects.get(name="web-01").attributes == {"cpu_count": 8}


def test_a_self_relationship_is_refused_in_the_admin(maria_client):
    ci = CIFactory()
    data = {"source": ci.pk, "target": ci.pk, "type": relationship_type("depends-on").pk, "description": ""}
    response = maria_client.post("/admin/cmdb/relationship/add/", data)
    assert response.status_code == 200
    assert not Relationship.objects.exists()


def test_a_class_in_use_is_not_deleted_from_the_admin(maria_client):
    linux = ci_class("linux-server")
    CIFactory(ci_class=linux)
    page = maria_client.get(f"/admin/cmdb/ciclass/{linux.pk}/delete/")
    assert page.status_code == 200 and "Cannot delete" in page.content.decode()
    maria_client.post(f"/admin/cmdb/ciclass/{linux.pk}/delete/", {"post": "yes"})
    assert CIClass.objects.filter(pk=linux.pk).exists()
