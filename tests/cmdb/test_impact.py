"""Impact analysis (cmdb.selectors.impact): one recursive query, shortest depth and path per CI,
business services apart, safe on cycles and diamonds."""

import pytest

from cmdb.choices import Direction
from cmdb.selectors import affected_ci_ids, impact
from tests.factories import CIFactory, ci_class, link

pytestmark = pytest.mark.django_db


@pytest.fixture
def estate():
    """shop (service) ─depends on→ web ─runs on→ vm ─runs on→ host ─connected to→ switch
    shop ─depends on→ api ─depends on→ db ─runs on→ host   (a diamond: host reached two ways)
    backup ←backed up by─ db  (does not propagate)"""
    names = {}
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
        names[name] = CIFactory(name=name, ci_class=ci_class(cls))
    n = names
    link(n["shop"], n["web"])
    link(n["shop"], n["api"])
    link(n["web"], n["vm"], "runs-on")
    link(n["vm"], n["host"], "runs-on")
    link(n["api"], n["db"])
    link(n["db"], n["host"], "runs-on")
    link(n["host"], n["switch"], "connected-to")
    link(n["db"], n["backup"], "backed-up-by")
    return n


def by_name(result):
    return {r.name: r for r in result.results}


def test_downstream_lists_every_dependent_once_at_its_shortest_depth_with_a_path(estate):
    result = impact(estate["switch"], Direction.DOWNSTREAM, depth=10)
    found = by_name(result)
    assert set(found) == {"host", "vm", "db", "web", "api", "shop"}
    assert found["host"].depth == 1
    assert found["vm"].depth == found["db"].depth == 2
    assert found["web"].depth == found["api"].depth == 3
    assert found["shop"].depth == 4
    path = found["shop"].path
    assert path[0].name == "switch" and path[-1].name == "shop"
    assert len(path) == 5
    assert path[1].via == "connects"  # switch connects host
    assert [r.depth for r in result.results] == sorted(r.depth for r in result.results)


def test_business_services_are_listed_apart(estate):
    result = impact(estate["db"], Direction.DOWNSTREAM)
    assert [r.name for r in result.business_services] == ["shop"]
    assert {r.name for r in result.results} == {"api", "shop"}


def test_links_that_do_not_propagate_failure_are_not_followed(estate):
    assert impact(estate["backup"], Direction.DOWNSTREAM).results == []


def test_upstream_lists_what_a_ci_needs(estate):
    found = by_name(impact(estate["shop"], Direction.UPSTREAM, depth=10))
    assert set(found) == {"web", "api", "vm", "db", "host", "switch"}
    assert found["host"].depth == 3
    assert found["switch"].path[-1].via == "connected to"
    assert found["web"].path[1].via == "depends on"


def test_the_depth_limit_bounds_the_walk(estate):
    found = by_name(impact(estate["switch"], Direction.DOWNSTREAM, depth=2))
    assert set(found) == {"host", "vm", "db"}
    assert max(r.depth for r in found.values()) == 2


def test_cycles_terminate_and_report_each_ci_once():
    a, b, c, d = (CIFactory(name=name) for name in "abcd")
    link(a, b)
    link(b, c)
    link(c, a)  # a cycle a → b → c → a
    link(d, c)
    found = by_name(impact(a, Direction.DOWNSTREAM, depth=20))
    # Downstream of a: who depends on a? c (depth 1), then b and d (depth 2); a itself is the start.
    assert set(found) == {"c", "b", "d"}
    assert found["c"].depth == 1 and found["b"].depth == 2 and found["d"].depth == 2
    assert [hop.name for hop in found["b"].path] == ["a", "c", "b"]


def test_a_diamond_reports_the_shared_ci_once():
    top, left, right, bottom = (CIFactory(name=name) for name in ("top", "left", "right", "bottom"))
    link(top, left)
    link(top, right)
    link(left, bottom)
    link(right, bottom)
    results = impact(bottom, Direction.DOWNSTREAM).results
    assert [r.name for r in results].count("top") == 1
    assert by_name(impact(bottom)).get("top").depth == 2


def test_impact_is_one_query_whatever_the_graph_size(estate, django_assert_num_queries):
    with django_assert_num_queries(1):
        impact(estate["switch"], Direction.DOWNSTREAM, depth=10)


def test_affected_ci_ids_covers_several_starts_in_one_query(estate, django_assert_num_queries):
    with django_assert_num_queries(1):
        ids = affected_ci_ids([estate["vm"].pk, estate["backup"].pk])
    assert ids == {estate[n].pk for n in ("vm", "web", "shop", "backup")}


def test_an_unknown_direction_is_refused(estate):
    with pytest.raises(ValueError, match="direction"):
        impact(estate["db"], "sideways")
