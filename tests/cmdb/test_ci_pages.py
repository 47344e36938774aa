"""The CI pages with Django's client: list (filters, quick views, constant queries), add/edit with
typed attribute fields (and the htmx class switch), detail with relationships added and removed
in place, the graph JSON, the impact page, delete and history, and who may write."""

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.models import CI, Relationship, Tag
from tests.factories import CIFactory, TeamFactory, ci_class, link, relationship_type

pytestmark = pytest.mark.django_db

LIST = "/cmdb/cis/"


def names_in(response):
    return [obj.name for obj, _ in response.context["rows"]]


def count_queries(client, url, data=None, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data or {}, **headers)
    assert response.status_code == 200
    return len(queries), response


# List ------------------------------------------------------------------------------------------
def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/cmdb/cis/")


def test_the_list_filters_by_class_including_subclasses_and_by_tag(alice_client):
    CIFactory(name="web-01", ci_class=ci_class("linux-server"), tags=["pci"])
    CIFactory(name="bare-01", ci_class=ci_class("server"))
    CIFactory(name="shop-app", ci_class=ci_class("application"), tags=["pci"])
    servers = alice_client.get(LIST, {"ci_class": ci_class("server").pk})
    assert sorted(names_in(servers)) == ["bare-01", "web-01"]
    assert sorted(names_in(alice_client.get(LIST, {"tag": "pci"}))) == ["shop-app", "web-01"]
    assert names_in(alice_client.get(LIST, {"q": "shop"})) == ["shop-app"]


def test_quick_views_filter_and_the_active_one_is_highlighted(alice_client):
    CIFactory(name="prod-db", environment="production", criticality=1, ci_class=ci_class("database"))
    CIFactory(name="test-db", environment="test", criticality=3, ci_class=ci_class("database"))
    CIFactory(name="old-db", environment="test", status="retired", ci_class=ci_class("database"))

    everything = alice_client.get(LIST)
    views = {label: (url, active) for label, url, active in everything.context["quick_views"]}
    assert list(views) == ["All", "Production", "Critical", "Retired"]
    assert views["All"][1] is True and not any(active for _, active in list(views.values())[1:])

    expected = {"Production": ["prod-db"], "Critical": ["prod-db"], "Retired": ["old-db"]}
    for label, names in expected.items():
        response = alice_client.get(views[label][0])
        assert names_in(response) == names
        active = [name for name, _, is_active in response.context["quick_views"] if is_active]
        assert active == [label]
        body = response.content.decode()
        assert f'aria-current="page">{label}</a>' in body

    # Any other filter: no quick view is active.
    other = alice_client.get(LIST, {"environment": "test"})
    assert not any(active for _, _, active in other.context["quick_views"])


def test_an_htmx_filter_refreshes_the_quick_views_out_of_band(alice_client):
    CIFactory(name="prod-db", environment="production")
    body = alice_client.get(LIST, {"environment": "production"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert 'id="ci-quick-views" aria-label="Quick views" hx-swap-oob="true"' in body


def test_the_list_shows_tags_and_exports_csv(alice_client):
    CIFactory(name="web-01", tags=["pci", "frontend"])
    response = alice_client.get(LIST)
    assert "frontend, pci" in response.content.decode()
    export = alice_client.get(LIST, {"export": "csv"})
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode())))
    assert rows[0][-1] == "Tags"
    assert rows[1][0] == "web-01" and rows[1][-1] == "frontend, pci"


def test_the_list_runs_the_same_number_of_queries_whatever_the_page_size(alice_client):
    team = TeamFactory(name="Ops")
    for i in range(40):
        CIFactory(name=f"ci-{i:02d}", owner_team=team, tags=[f"t{i % 3}", "all"])
    small, _ = count_queries(alice_client, LIST, {"per_page": 5})
    large, response = count_queries(alice_client, LIST, {"per_page": 40})
    assert len(response.context["rows"]) == 40
    assert small == large


# Add / edit ------------------------------------------------------------------------------------
def ci_form_data(**overrides):
    data = {
        "name": "billing-db",
        "ci_class": ci_class("database").pk,
        "status": "active",
        "environment": "production",
        "criticality": "2",
        "ip_addresses": "10.0.0.5, 2001:db8::1 10.0.0.6",
        "tags": "pci, billing",
        "attr_engine": "postgresql",
        "attr_port": "5432",
        "attr_size_gb": "12.5",
    }
    data.update(overrides)
    return data


def test_the_add_form_has_the_classs_attributes_as_typed_fields(alice_client):
    response = alice_client.get("/cmdb/cis/add/", {"ci_class": ci_class("switch").pk})
    form = response.context["form"]
    kinds = {name: type(field).__name__ for name, field in form.fields.items() if name.startswith("attr_")}
    # switch's own attribute and the ones inherited from network device and hardware
    assert kinds == {
        "attr_rack_unit": "CharField",
        "attr_firmware_version": "CharField",
        "attr_management_ip": "GenericIPAddressField",
        "attr_port_count": "IntegerField",
        "attr_stack_member": "NullBooleanField",
    }
    database = alice_client.get("/cmdb/cis/add/", {"ci_class": ci_class("database").pk}).context["form"]
    assert type(database.fields["attr_engine"]).__name__ == "ChoiceField"
    assert type(database.fields["attr_size_gb"]).__name__ == "FloatField"


def test_an_agent_adds_a_ci_with_typed_attributes_tags_and_addresses(alice_client):
    Tag.objects.create(name="PCI")
    response = alice_client.post("/cmdb/cis/add/", ci_form_data())
    ci = CI.objects.get(name="billing-db")
    assert response.status_code == 302 and response["Location"] == f"/cmdb/cis/{ci.pk}/"
    assert ci.attributes == {"engine": "postgresql", "port": 5432, "size_gb": 12.5}
    assert ci.ip_addresses == ["10.0.0.5", "2001:db8::1", "10.0.0.6"]
    assert sorted(t.name for t in ci.tags.all()) == ["PCI", "billing"]  # an existing tag is reused
    detail = alice_client.get(response["Location"]).content.decode()
    assert "Engine" in detail and "postgresql" in detail and "5432" in detail


def test_a_bad_attribute_value_is_an_error_on_its_field_and_nothing_is_written(alice_client):
    response = alice_client.post("/cmdb/cis/add/", ci_form_data(attr_port="fifty", attr_engine="db2"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"attr_port", "attr_engine"}
    assert "Enter a whole number." in errors["attr_port"]
    assert not CI.objects.exists() and not Tag.objects.exists()
    body = response.content.decode()
    assert "Enter a whole number." in body


def test_bad_addresses_tags_and_duplicates_are_shown_on_their_fields(alice_client):
    CIFactory(name="Billing-DB", ci_class=ci_class("database"))
    response = alice_client.post(
        "/cmdb/cis/add/", ci_form_data(ip_addresses="10.0.0.1, 999.1.1.1", tags="ok, bad tag!")
    )
    errors = response.context["form"].errors
    assert "999.1.1.1" in errors["ip_addresses"][0]
    assert "bad tag!" not in errors["tags"][0] and "tag!" in errors["tags"][0]
    response = alice_client.post("/cmdb/cis/add/", ci_form_data())
    assert response.context["form"].errors["name"] == ["A CI of this class with this name already exists."]
    assert CI.objects.count() == 1


def test_a_required_boolean_attribute_must_be_answered(alice_client, maria):
    from cmdb.models import AttributeDefinition
    from cmdb.services import save_class

    cls = ci_class("firewall")
    ha_pair = AttributeDefinition.objects.get(ci_class=cls, name="ha_pair")
    ha_pair.required = True
    save_class(cls, attributes=[ha_pair])
    data = ci_form_data(name="fw-01", ci_class=cls.pk, attr_ha_pair="unknown")
    response = alice_client.post("/cmdb/cis/add/", data)
    assert response.context["form"].errors["attr_ha_pair"] == ["This field is required."]
    alice_client.post("/cmdb/cis/add/", data | {"attr_ha_pair": "false"})
    assert CI.objects.get(name="fw-01").attributes == {"ha_pair": False}


def test_switching_the_class_re_renders_the_attribute_fields_with_htmx(alice_client):
    response = alice_client.get(
        "/cmdb/cis/attribute-fields/",
        {"ci_class": ci_class("linux-server").pk, "attr_cpu_count": "8", "attr_engine": "postgresql"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert "<html" not in body and "Attributes of Linux server" in body
    assert 'name="attr_cpu_count"' in body and 'value="8"' in body  # typed values are kept
    assert 'name="attr_rack_unit"' in body  # inherited from Hardware
    assert 'name="attr_engine"' not in body
    add_page = alice_client.get("/cmdb/cis/add/").content.decode()
    assert 'hx-get="/cmdb/cis/attribute-fields/"' in add_page and 'hx-target="#ci-attribute-fields"' in add_page
    assert "Choose a class" in alice_client.get("/cmdb/cis/attribute-fields/", {"ci_class": "x"}).content.decode()


def test_editing_a_ci_keeps_its_values_and_a_class_change_drops_foreign_attributes(alice_client):
    ci = CIFactory(name="db-1", ci_class=ci_class("database"), attributes={"port": 5432}, ip_addresses=["10.1.1.1"])
    ci.tags.set([Tag.objects.create(name="pci")])
    form = alice_client.get(f"/cmdb/cis/{ci.pk}/edit/").context["form"]
    assert form["ip_addresses"].value() == "10.1.1.1" and form["tags"].value() == "pci"
    assert form["attr_port"].value() == 5432
    data = ci_form_data(name="db-1", ci_class=ci_class("application").pk, attr_port="8080", tags="")
    response = alice_client.post(f"/cmdb/cis/{ci.pk}/edit/", data)
    assert response.status_code == 302
    ci.refresh_from_db()
    assert ci.ci_class.slug == "application" and ci.attributes == {"port": 8080}
    assert not ci.tags.exists()


# Detail, relationships ------------------------------------------------------------------------
@pytest.fixture
def shop():
    """shop (business service) depends on api, api depends on db, db backed up by nas."""
    shop = CIFactory(name="shop", ci_class=ci_class("business-service"))
    api = CIFactory(name="api", ci_class=ci_class("application"))
    db = CIFactory(name="db", ci_class=ci_class("database"))
    nas = CIFactory(name="nas", ci_class=ci_class("storage-array"))
    link(shop, api)
    link(api, db)
    link(db, nas, "backed-up-by")
    return {"shop": shop, "api": api, "db": db, "nas": nas}


def test_the_detail_page_shows_the_class_path_attributes_tags_and_relationships_read_from_the_ci(alice_client, shop):
    db = shop["db"]
    db.attributes = {"engine": "postgresql"}
    db.save()
    switch = CIFactory(name="core-sw", ci_class=ci_class("switch"), tags=["core"])
    response = alice_client.get(f"/cmdb/cis/{db.pk}/")
    body = response.content.decode()
    rows = [(label, other.name) for _, label, other in response.context["relationship_rows"]]
    assert sorted(rows) == [("backed up by", "nas"), ("used by", "api")]
    assert "Engine" in body and "postgresql" in body
    for tab in ("Details", "Graph", "Impact", "History"):
        assert f">{tab}</a>" in body
    assert "Nothing linked yet." in body
    switch_page = alice_client.get(f"/cmdb/cis/{switch.pk}/").content.decode()
    assert [c.name for c, _ in alice_client.get(f"/cmdb/cis/{switch.pk}/").context["class_path"]] == [
        "Hardware",
        "Network device",
        "Switch",
    ]
    assert 'href="/cmdb/cis/?tag=core"' in switch_page


def test_the_related_objects_panel_lists_what_other_apps_register(alice_client, shop):
    from cmdb import related

    kind = related.RelatedObjects(
        key="peers",
        title="Peers",
        permission="cmdb.view_ci",
        queryset=lambda ci: CI.objects.exclude(pk=ci.pk).order_by("name"),
    )
    related.register(kind)
    try:
        body = alice_client.get(f"/cmdb/cis/{shop['db'].pk}/").content.decode()
    finally:
        related._registry.pop("peers")
    assert "Peers" in body and "Nothing linked yet." not in body
    assert '<a href="/cmdb/cis/{}/">api</a>'.format(shop["api"].pk) in body


def test_an_agent_relates_two_cis_in_place_with_either_reading_of_the_type(alice_client, shop):
    web = CIFactory(name="web", ci_class=ci_class("application"))
    depends = relationship_type("depends-on")
    url = f"/cmdb/cis/{web.pk}/relationships/add/"
    # "web depends on api", picked from the search results (an id)
    response = alice_client.post(
        url, {"type": f"{depends.pk}:forward", "target": shop["api"].pk}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="ci-relationships"' in body and "Related: web depends on api." in body
    assert Relationship.objects.filter(source=web, target=shop["api"], type=depends).exists()
    # "web used by shop" typed as an exact name: shop depends on web
    alice_client.post(url, {"type": f"{depends.pk}:reverse", "target_search": "SHOP"}, HTTP_HX_REQUEST="true")
    assert Relationship.objects.filter(source=shop["shop"], target=web, type=depends).exists()
    # without htmx: back to the page
    runs_on = relationship_type("runs-on")
    plain = alice_client.post(url, {"type": f"{runs_on.pk}:forward", "target": shop["db"].pk})
    assert plain.status_code == 302 and plain["Location"] == f"/cmdb/cis/{web.pk}/"


def test_self_links_duplicates_and_unknown_targets_are_shown_inline_and_nothing_is_written(alice_client, shop):
    api, db = shop["api"], shop["db"]
    depends = relationship_type("depends-on")
    url = f"/cmdb/cis/{api.pk}/relationships/add/"
    before = Relationship.objects.count()
    cases = [
        ({"type": f"{depends.pk}:forward", "target": api.pk}, "A CI can&#x27;t be related to itself."),
        ({"type": f"{depends.pk}:forward", "target": db.pk}, "These two CIs are already related this way."),
        ({"type": f"{depends.pk}:forward", "target_search": "nope"}, "No CI is named “nope”"),
        ({"type": f"{depends.pk}:forward"}, "Pick the CI to relate to."),
        ({"type": "999:forward", "target": db.pk}, "Select a valid choice."),
    ]
    for data, error in cases:
        response = alice_client.post(url, data, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        body = response.content.decode()
        assert error in body, (data, body)
        assert "invalid-feedback" in body
    assert Relationship.objects.count() == before


def test_an_agent_removes_a_relationship_in_place(alice_client, shop):
    relationship = Relationship.objects.get(source=shop["api"], target=shop["db"])
    url = f"/cmdb/cis/{shop['db'].pk}/relationships/{relationship.pk}/remove/"
    response = alice_client.post(url, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "Removed: api depends on db." in response.content.decode()
    assert not Relationship.objects.filter(pk=relationship.pk).exists()
    # a relationship of another CI can't be removed through this CI's page
    other = Relationship.objects.get(source=shop["shop"])
    assert alice_client.post(f"/cmdb/cis/{shop['db'].pk}/relationships/{other.pk}/remove/").status_code == 404


def test_the_ci_search_answers_at_most_twenty_matches_best_first(alice_client):
    for i in range(30):
        CIFactory(name=f"app-{i:02d}")
    CIFactory(name="app")
    CIFactory(name="my-app-x")
    results = alice_client.get("/cmdb/cis/search/", {"q": "app"}).json()["results"]
    assert len(results) == 20
    assert results[0]["name"] == "app" and results[1]["name"] == "app-00"
    assert set(results[0]) == {"id", "name", "ci_class", "environment", "url"}
    own = CI.objects.get(name="app")
    html = alice_client.get(
        "/cmdb/cis/search/", {"target_search": "app", "exclude": own.pk}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'data-ci-pick="{own.pk}"' not in html and html.count("data-ci-pick=") == 20
    assert alice_client.get("/cmdb/cis/search/", {"q": ""}).json() == {"results": []}


# Permissions ------------------------------------------------------------------------------------
def test_viewers_see_every_page_but_no_write_controls_and_writes_are_forbidden(client, victor, shop):
    client.force_login(victor)
    db = shop["db"]
    relationship = Relationship.objects.get(source=shop["api"], target=db)
    pages = [
        LIST,
        f"/cmdb/cis/{db.pk}/",
        f"/cmdb/cis/{db.pk}/graph/",
        f"/cmdb/cis/{db.pk}/impact/",
        f"/cmdb/cis/{db.pk}/history/",
        f"/cmdb/cis/{db.pk}/graph.json",
        "/cmdb/cis/search/?q=d",
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    detail = client.get(f"/cmdb/cis/{db.pk}/").content.decode()
    assert "Add relationship" not in detail and ">Remove<" not in detail and ">Edit<" not in detail
    assert "Add configuration item" not in client.get(LIST).content.decode()
    writes = [
        ("/cmdb/cis/add/", ci_form_data()),
        (f"/cmdb/cis/{db.pk}/edit/", ci_form_data(name="renamed")),
        (f"/cmdb/cis/{db.pk}/delete/", {}),
        (f"/cmdb/cis/{db.pk}/relationships/add/", {"type": "1:forward", "target": shop["nas"].pk}),
        (f"/cmdb/cis/{db.pk}/relationships/{relationship.pk}/remove/", {}),
    ]
    for url, data in writes:
        assert client.post(url, data).status_code == 403, url
    assert client.get("/cmdb/cis/add/").status_code == 403
    assert CI.objects.count() == 4 and Relationship.objects.count() == 3
    db.refresh_from_db()
    assert db.name == "db"


def test_agents_and_managers_get_the_write_controls(client, alice, maria, shop):
    for user in (alice, maria):
        client.force_login(user)
        detail = client.get(f"/cmdb/cis/{shop['db'].pk}/").content.decode()
        assert "Add relationship" in detail and ">Remove</button>" in detail and ">Edit</a>" in detail
        assert "Add configuration item" in client.get(LIST).content.decode()


def test_delete_and_history(alice_client, shop):
    db = shop["db"]
    alice_client.post(f"/cmdb/cis/{db.pk}/edit/", ci_form_data(name="db", attr_port="5433"))
    history = alice_client.get(f"/cmdb/cis/{db.pk}/history/")
    actions = [c.action for c in history.context["changes"]]
    assert actions[-1] == "create" and "update" in actions
    assert "5433" in history.content.decode()
    assert ">Graph</a>" in history.content.decode()
    response = alice_client.post(f"/cmdb/cis/{db.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == LIST
    assert not CI.objects.filter(pk=db.pk).exists()
    assert not Relationship.objects.filter(target_id=db.pk).exists()


# Graph ------------------------------------------------------------------------------------------
def test_the_graph_json_has_the_neighbourhood_in_both_directions(alice_client, shop):
    data = alice_client.get(f"/cmdb/cis/{shop['api'].pk}/graph.json").json()
    assert data["start"] == str(shop["api"].pk) and data["depth"] == 2 and data["capped"] is False
    by_name = {n["label"]: n for n in data["nodes"]}
    assert set(by_name) == {"shop", "api", "db", "nas"}
    assert set(by_name["shop"]) >= {"id", "label", "ci_class", "status", "business_service", "url"}
    assert by_name["shop"]["business_service"] is True and by_name["db"]["business_service"] is False
    assert by_name["api"]["start"] is True and by_name["db"]["url"] == f"/cmdb/cis/{shop['db'].pk}/"
    edges = {(e["source"], e["label"], e["target"]) for e in data["edges"]}
    ids = {name: n["id"] for name, n in by_name.items()}
    assert edges == {
        (ids["shop"], "depends on", ids["api"]),
        (ids["api"], "depends on", ids["db"]),
        (ids["db"], "backed up by", ids["nas"]),
    }
    near = alice_client.get(f"/cmdb/cis/{shop['api'].pk}/graph.json", {"depth": 1}).json()
    assert {n["label"] for n in near["nodes"]} == {"shop", "api", "db"}


def test_the_graph_json_refuses_bad_parameters_with_a_400(alice_client, shop):
    url = f"/cmdb/cis/{shop['api'].pk}/graph.json"
    for params in ({"depth": "5"}, {"depth": "x"}, {"direction": "sideways"}, {"direction": "upstream", "depth": 0}):
        response = alice_client.get(url, params)
        assert response.status_code == 400, params
        assert response.json()["error"]


def test_the_graph_json_runs_a_bounded_number_of_queries_and_caps_the_nodes(alice_client):
    hub = CIFactory(name="hub", ci_class=ci_class("switch"))
    small_ring = [CIFactory(name=f"s-{i}") for i in range(3)]
    for ci in small_ring:
        link(ci, hub, "connected-to")
    url = f"/cmdb/cis/{hub.pk}/graph.json"
    small, _ = count_queries(alice_client, url, {"depth": 4})
    # a much bigger neighbourhood: 350 CIs on the hub, each with a CI of its own
    leaves = CIFactory.create_batch(350)
    Relationship.objects.bulk_create(
        [Relationship(source=ci, target=hub, type=relationship_type("connected-to")) for ci in leaves]
    )
    apps = CIFactory.create_batch(50)
    Relationship.objects.bulk_create(
        [
            Relationship(source=app, target=leaf, type=relationship_type("runs-on"))
            for app, leaf in zip(apps, leaves, strict=False)
        ]
    )
    large, response = count_queries(alice_client, url, {"depth": 4})
    data = response.json()
    assert large == small
    assert len(data["nodes"]) == 300 and data["capped"] is True
    node_ids = {n["id"] for n in data["nodes"]}
    assert all(e["source"] in node_ids and e["target"] in node_ids for e in data["edges"])


def test_the_impact_graph_marks_the_start_and_the_business_services(alice_client, shop):
    data = alice_client.get(f"/cmdb/cis/{shop['db'].pk}/graph.json", {"direction": "downstream", "depth": 5}).json()
    by_name = {n["label"]: n for n in data["nodes"]}
    assert set(by_name) == {"db", "api", "shop"}  # nas: backed-up-by does not propagate
    assert by_name["db"]["start"] is True and by_name["shop"]["business_service"] is True
    assert by_name["shop"]["depth"] == 2
    assert len(data["edges"]) == 2


def test_the_graph_tab_loads_the_vendored_library_and_points_at_the_json(alice_client, shop):
    body = alice_client.get(f"/cmdb/cis/{shop['api'].pk}/graph/", {"depth": 3}).content.decode()
    assert "/static/vendor/cytoscape/cytoscape.min.js" in body and "/static/itom/ci-graph.js" in body
    assert f'data-graph-url="/cmdb/cis/{shop["api"].pk}/graph.json?depth=3"' in body
    assert "http://" not in body.split("<body")[0] and "https://" not in body.split("<body")[0]
    bad = alice_client.get(f"/cmdb/cis/{shop['api'].pk}/graph/", {"depth": "9"})
    assert bad.status_code == 200 and bad.context["depth"] == 2


# Impact -----------------------------------------------------------------------------------------
def test_the_impact_page_lists_business_services_apart_with_paths(alice_client, shop):
    response = alice_client.get(f"/cmdb/cis/{shop['db'].pk}/impact/")
    assert response.status_code == 200
    body = response.content.decode()
    services = response.context["business_services"]
    assert [s.name for s in services] == ["shop"]
    assert body.index('id="impact-business-services"') < body.index('id="impact-table"')
    section = body[body.index('id="impact-business-services"') : body.index('id="impact-table"')]
    assert "shop" in section and 'border-danger" id="impact-business-services"' in body
    assert "db → used by → api → used by → shop" in body
    rows = [(r.name, r.depth) for r in response.context["page_obj"].object_list]
    assert rows == [("api", 1), ("shop", 2)]
    assert 'class="table-warning business-service"' in body
    assert f'data-graph-url="/cmdb/cis/{shop["db"].pk}/graph.json?direction=downstream&amp;depth=5"' in body


def test_upstream_impact_lists_what_the_ci_needs(alice_client, shop):
    response = alice_client.get(f"/cmdb/cis/{shop['shop'].pk}/impact/", {"direction": "upstream", "depth": 1})
    assert [r.name for r in response.context["page_obj"].object_list] == ["api"]
    assert "shop → depends on → api" in response.content.decode()


def test_bad_impact_parameters_give_a_message_not_an_error(alice_client, shop):
    for params in ({"direction": "sideways"}, {"depth": "lots"}, {"depth": "0"}, {"depth": "999"}):
        response = alice_client.get(f"/cmdb/cis/{shop['db'].pk}/impact/", params)
        assert response.status_code == 200, params
        body = response.content.decode()
        assert "showing downstream" in body and "invalid-feedback" in body
        assert [r.name for r in response.context["page_obj"].object_list] == ["api", "shop"]


def test_the_impact_table_pages_with_htmx(alice_client):
    hub = CIFactory(name="hub", ci_class=ci_class("switch"))
    Relationship.objects.bulk_create(
        [
            Relationship(source=ci, target=hub, type=relationship_type("connected-to"))
            for ci in CIFactory.create_batch(60)
        ]
    )
    response = alice_client.get(f"/cmdb/cis/{hub.pk}/impact/", {"page": 2}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and 'id="impact-table"' in body
    assert len(response.context["page_obj"].object_list) == 10


def test_impact_json_is_not_a_page(alice_client, shop):
    # the graph JSON's shape, parsed as JSON (not HTML)
    raw = alice_client.get(f"/cmdb/cis/{shop['db'].pk}/graph.json").content
    assert set(json.loads(raw)) == {"start", "depth", "capped", "max_nodes", "nodes", "edges"}


def test_the_list_offers_the_common_filters_and_keeps_the_others_working_from_a_link(alice_client):
    CIFactory(name="web-01", fqdn="web-01.example.com")
    CIFactory(name="web-02", fqdn="web-02.example.com")
    response = alice_client.get(LIST, {"fqdn": "web-02.example.com"})
    assert names_in(response) == ["web-02"]
    form = response.context["filterset"].form
    shown = [f.name for f in form.visible_fields()]
    assert shown == ["q", "ci_class", "status", "environment", "criticality", "owner_team", "tag"]
    assert '<input type="hidden" name="fqdn" value="web-02.example.com"' in response.content.decode()


def test_the_detail_page_shows_at_most_a_hundred_relationships_each_way_at_a_constant_query_count(alice_client):
    hub = CIFactory(name="hub", ci_class=ci_class("switch"))
    connected = relationship_type("connected-to")
    Relationship.objects.bulk_create(
        [Relationship(source=ci, target=hub, type=connected) for ci in CIFactory.create_batch(3)]
    )
    few, _ = count_queries(alice_client, f"/cmdb/cis/{hub.pk}/")
    Relationship.objects.bulk_create(
        [Relationship(source=ci, target=hub, type=connected) for ci in CIFactory.create_batch(102)]
    )
    many, response = count_queries(alice_client, f"/cmdb/cis/{hub.pk}/")
    assert few == many
    assert len(response.context["relationship_rows"]) == 100
    body = response.content.decode()
    assert "…and 5 more" in body and '<span class="badge text-bg-secondary">105</span>' in body
