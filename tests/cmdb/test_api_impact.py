"""``GET /api/v1/cmdb/cis/{id}/impact/``: depth, path and business services on a graph with a
cycle and a diamond; bad parameters are 400s; one query for the analysis itself."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cmdb.selectors import MAX_DEPTH
from tests.factories import CIFactory, ci_class, link

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate():
    """shop (service) ─depends on→ web ─runs on→ vm ─runs on→ host ─connected to→ switch
    shop ─depends on→ api ─depends on→ db ─runs on→ host   (a diamond: host reached two ways)
    db ─depends on→ api                                     (a cycle: api ⇄ db)
    db ─backed up by→ backup                                (does not propagate)"""
    n = {}
    for name, cls in [
        ("shop", "business-service"),
        ("web", "application"),
        ("api", "application"),
        ("db", "database"),
        ("vm", "virtual-machine"),
        ("host", "linux-server"),
        ("switch", "switch"),
        ("backup", "storage-array"),
    ]:
        n[name] = CIFactory(name=name, ci_class=ci_class(cls), criticality=1 if name == "shop" else 3)
    link(n["shop"], n["web"])
    link(n["shop"], n["api"])
    link(n["web"], n["vm"], "runs-on")
    link(n["vm"], n["host"], "runs-on")
    link(n["api"], n["db"])
    link(n["db"], n["api"])
    link(n["db"], n["host"], "runs-on")
    link(n["host"], n["switch"], "connected-to")
    link(n["db"], n["backup"], "backed-up-by")
    return n


def impact_of(client, ci, **params):
    return client.get(f"/api/v1/cmdb/cis/{ci.pk}/impact/", params)


def by_name(body):
    return {r["name"]: r for r in body["results"]}


def test_downstream_impact_lists_each_ci_once_with_its_depth_path_and_the_business_services(victor_api, estate):
    response = impact_of(victor_api, estate["switch"], direction="downstream", depth=10)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ci"] == {"id": estate["switch"].pk, "name": "switch"}
    assert (body["direction"], body["depth"], body["count"]) == ("downstream", 10, 6)
    found = by_name(body)
    assert {name: r["depth"] for name, r in found.items()} == {
        "host": 1,
        "vm": 2,
        "db": 2,
        "web": 3,
        "api": 3,
        "shop": 4,
    }
    assert [r["depth"] for r in body["results"]] == sorted(r["depth"] for r in body["results"])
    shop = found["shop"]
    assert [hop["name"] for hop in shop["path"]][0::4] == ["switch", "shop"]
    assert len(shop["path"]) == 5
    assert shop["path"][0]["via"] == "" and shop["path"][1] == {
        "id": estate["host"].pk,
        "name": "host",
        "via": "connects",
    }
    assert shop["is_business_service"] is True
    assert (shop["ci_class"], shop["ci_class_name"]) == (ci_class("business-service").pk, "Business service")
    assert (shop["status"], shop["environment"], shop["criticality"]) == ("active", "production", 1)
    assert shop["url"].endswith(f"/api/v1/cmdb/cis/{estate['shop'].pk}/")
    assert [s["name"] for s in body["business_services"]] == ["shop"]
    assert body["business_services"][0]["depth"] == 4


def test_the_depth_limit_stops_the_walk(victor_api, estate):
    body = impact_of(victor_api, estate["switch"], depth=2).json()
    assert sorted(by_name(body)) == ["db", "host", "vm"]
    assert body["business_services"] == []


def test_the_cycle_is_harmless_and_the_start_is_never_listed(victor_api, estate):
    body = impact_of(victor_api, estate["db"], depth=MAX_DEPTH).json()
    assert sorted(by_name(body)) == ["api", "shop"]
    assert by_name(body)["api"]["path"] == [
        {"id": estate["db"].pk, "name": "db", "via": ""},
        {"id": estate["api"].pk, "name": "api", "via": "used by"},
    ]


def test_upstream_impact_lists_what_a_ci_needs(victor_api, estate):
    body = impact_of(victor_api, estate["shop"], direction="upstream", depth=10).json()
    found = by_name(body)
    assert set(found) == {"web", "api", "db", "vm", "host", "switch"}
    assert found["host"]["depth"] == 3
    assert found["switch"]["path"][-1]["via"] == "connected to"
    assert body["business_services"] == []


def test_the_defaults_are_downstream_and_depth_five(victor_api, estate):
    body = impact_of(victor_api, estate["backup"]).json()
    assert (body["direction"], body["depth"], body["count"], body["results"]) == ("downstream", 5, 0, [])


@pytest.mark.parametrize(
    "params, field",
    [
        ({"direction": "sideways"}, "direction"),
        ({"depth": "deep"}, "depth"),
        ({"depth": 0}, "depth"),
        ({"depth": -1}, "depth"),
        ({"depth": MAX_DEPTH + 1}, "depth"),
        ({"depth": "2.5"}, "depth"),
    ],
)
def test_bad_parameters_are_400s_naming_them(victor_api, estate, params, field):
    response = impact_of(victor_api, estate["switch"], **params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_an_unknown_ci_is_a_404_and_anonymous_callers_are_refused(victor_api, anon, estate):
    assert victor_api.get("/api/v1/cmdb/cis/999999/impact/").status_code == 404
    assert impact_of(anon, estate["switch"]).status_code in (401, 403)


def test_the_analysis_is_one_query_whatever_the_graph(victor_api, estate):
    victor_api.get("/api/v1/cmdb/cis/")  # the token's last-used time is recorded once a minute: not counted
    with CaptureQueriesContext(connection) as small:
        assert impact_of(victor_api, estate["host"], depth=10).json()["count"] == 5
    # Grow the graph: twenty more applications on the vm, each used by the shop.
    for i in range(20):
        app = CIFactory(name=f"app-{i}", ci_class=ci_class("application"))
        link(app, estate["vm"], "runs-on")
        link(estate["shop"], app)
    with CaptureQueriesContext(connection) as large:
        assert impact_of(victor_api, estate["host"], depth=10).json()["count"] == 25
    assert len(small) == len(large) <= 6, [q["sql"] for q in large.captured_queries]
    assert sum("WITH RECURSIVE" in q["sql"] for q in large.captured_queries) == 1
