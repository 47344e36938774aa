"""The CMDB's part of ``manage.py seed_demo`` (cmdb/demo.py): a small, valid, audited estate,
seeded once whatever the number of runs, whose core switch takes both business services down."""

from io import StringIO

import pytest
from django.core.management import call_command

from cmdb import demo
from cmdb.choices import Direction
from cmdb.models import CI, Relationship, Tag
from cmdb.selectors import impact
from itom.models import ObjectChange

pytestmark = pytest.mark.django_db


def seed_demo():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts():
    return {
        "cis": CI.objects.count(),
        "relationships": Relationship.objects.count(),
        "tags": Tag.objects.count(),
        "tagged": CI.tags.through.objects.count(),
        "audit": ObjectChange.objects.count(),
    }


@pytest.fixture
def seeded():
    seed_demo()
    return {ci.name: ci for ci in CI.objects.select_related("ci_class", "owner_team")}


def test_seeding_twice_creates_nothing_new_not_even_audit_entries(seeded):
    first = counts()
    output = seed_demo()
    assert counts() == first
    assert first["cis"] == len(demo.CIS)
    assert first["relationships"] == len(demo.RELATIONSHIPS)
    assert "cmdb: " in output and "(0 new)" in output


def test_a_ci_deleted_by_an_operator_comes_back_with_its_relationships_and_nothing_else(seeded):
    seeded["lb-01"].delete()
    seed_demo()
    assert CI.objects.count() == len(demo.CIS)
    assert Relationship.objects.count() == len(demo.RELATIONSHIPS)


def test_the_core_switch_failing_reaches_both_business_services(seeded):
    result = impact(seeded["core-sw-01"], Direction.DOWNSTREAM, depth=10)
    assert {r.name for r in result.business_services} == {"Online shop", "Payroll"}
    reached = {r.name for r in result.results}
    assert {"access-sw-01", "hv-01", "shop-web-01", "k8s-prod", "checkout-api", "pg-shop", "payroll-db"} <= reached
    # Links that don't propagate failure aren't followed, and the cloud CDN hangs off no switch.
    assert reached.isdisjoint({"core-sw-01", "fw-01", "edge-rtr-01", "shop-cdn", "win-legacy-01"})
    payroll = next(r for r in result.business_services if r.name == "Payroll")
    assert [hop.name for hop in payroll.path] == ["core-sw-01", "access-sw-02", "win-01", "payroll-app", "Payroll"]


def test_upstream_of_the_shop_shows_what_it_needs_down_to_the_edge_router(seeded):
    reached = {r.name for r in impact(seeded["Online shop"], Direction.UPSTREAM, depth=10).results}
    assert {"shop-web", "checkout-api", "pg-shop", "k8s-node-02", "lb-01", "core-sw-01", "edge-rtr-01"} <= reached
    assert "Payroll" not in reached and "payroll-db" not in reached


def test_every_demo_ci_and_relationship_passes_full_validation(seeded):
    for ci in CI.objects.all():
        ci.full_clean()
    for relationship in Relationship.objects.all():
        relationship.full_clean()


def test_demo_cis_use_their_class_schema_and_belong_to_the_demo_teams(seeded):
    switch = seeded["core-sw-01"]
    assert switch.owner_team.name == "Network Operations"
    assert switch.attributes["management_ip"] == "10.0.0.1" and switch.attributes["port_count"] == 48
    assert seeded["pg-shop"].attributes["engine"] == "postgresql"
    assert seeded["payroll-db"].attributes["engine"] == "oracle"
    assert seeded["hv-01"].ip_addresses == ["10.10.0.11", "2001:db8:10::11"]
    assert all(ci.owner_team is not None for ci in seeded.values())
    classes = {ci.ci_class.slug for ci in seeded.values()}
    assert {"linux-server", "windows-server", "virtual-machine", "container-cluster", "router", "firewall"} <= classes
    assert {"load-balancer", "storage-array", "network-segment", "cloud-service", "database"} <= classes


def test_demo_tags_mark_web_pci_and_backup_cis(seeded):
    tagged = {tag.name: {ci.name for ci in tag.cis.all()} for tag in Tag.objects.prefetch_related("cis")}
    assert {"shop-web", "lb-01"} <= tagged["web"]
    assert {"checkout-api", "pg-shop"} <= tagged["pci"]
    assert {"stor-01", "pg-shop", "payroll-db"} <= tagged["backup"]


def test_the_demo_is_audited_as_seed_demo(seeded):
    changes = ObjectChange.objects.filter(object_repr="core-sw-01")
    assert changes.exists()
    assert {c.user_name for c in changes} == {"command:seed_demo"}
