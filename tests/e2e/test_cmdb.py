"""The CMDB's CI pages in a real browser: a manager creates a CI through the form (the class's
attribute fields arrive with htmx), relates it to a business service with the inline form and its
CI search, sees the business service highlighted in the impact view, and the Cytoscape graph draws
the CIs (and opens one on a click)."""

import re

import pytest
from playwright.sync_api import expect

from cmdb.models import CI, Relationship
from tests.factories import CIFactory, ci_class, relationship_type

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-cmdb-{}.png"


def wait_for_graph(page, nodes):
    """Wait until the page's Cytoscape graph (window.ciGraph) has drawn ``nodes`` nodes."""
    page.wait_for_function(f"() => window.ciGraph && window.ciGraph.nodes().length === {nodes}")
    expect(page.locator("#ci-graph canvas").first).to_be_visible()


def test_a_manager_creates_a_ci_relates_it_and_sees_the_business_service_in_its_impact(page, signed_in_manager):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"), criticality=1)
    CIFactory(name="Online banking", ci_class=ci_class("business-service"))

    # Create a CI through the form: the class's attribute fields come in when the class is chosen.
    page.goto("/cmdb/cis/")
    page.get_by_role("link", name="Add configuration item").click()
    page.get_by_label(re.compile(r"^Name")).fill("billing-db")
    expect(page.get_by_label("Engine")).to_have_count(0)
    page.get_by_label(re.compile(r"^Class")).select_option(label="Database")
    expect(page.get_by_label("Engine")).to_be_visible()
    page.get_by_label("Port").fill("5432")
    # Switching the class swaps only the attribute fields: typed values of the same name stay.
    page.get_by_label(re.compile(r"^Class")).select_option(label="Application")
    expect(page.get_by_label("Engine")).to_have_count(0)
    expect(page.get_by_label("Port")).to_have_value("5432")
    page.get_by_label(re.compile(r"^Class")).select_option(label="Database")
    expect(page.get_by_label("Engine")).to_be_visible()
    expect(page.get_by_label("Port")).to_have_value("5432")
    expect(page.get_by_label(re.compile(r"^Name"))).to_have_value("billing-db")
    page.get_by_label("Engine").select_option("postgresql")
    page.get_by_label("IP addresses").fill("10.20.0.5, 10.20.0.6")
    page.get_by_label("Tags").fill("pci, billing")
    page.screenshot(path=SCREENSHOTS.format("form"), full_page=True)
    page.get_by_role("button", name="Save").click()

    ci = CI.objects.get(name="billing-db")
    expect(page).to_have_url(f"/cmdb/cis/{ci.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("Saved configuration item “billing-db”.")
    expect(page.locator("#ci-attributes")).to_contain_text("postgresql")
    expect(page.locator("#ci-attributes")).to_contain_text("5432")
    expect(page.locator("#ci-tags")).to_contain_text("billing")
    assert ci.attributes == {"engine": "postgresql", "port": 5432}

    # Relate it with the inline form: "billing-db used by Online shop" (the shop depends on it).
    card = page.locator("#ci-relationships")
    card.get_by_label("billing-db …").select_option(label="used by")
    card.get_by_label("CI", exact=True).press_sequentially("Online", delay=20)
    results = card.locator("#ci-target-results")
    expect(results.get_by_role("option")).to_have_count(2)
    results.get_by_role("option", name=re.compile("^Online shop")).click()
    card.get_by_role("button", name="Add relationship").click()
    expect(card.locator(".relationship-row")).to_have_count(1)
    expect(card.locator(".relationship-row")).to_contain_text("used by Online shop")
    expect(card).to_contain_text("Related: Online shop depends on billing-db.")
    assert Relationship.objects.filter(source=shop, target=ci, type=relationship_type("depends-on")).exists()
    page.screenshot(path=SCREENSHOTS.format("detail"), full_page=True)

    # Its impact: the business service is listed apart, highlighted, and marked in the graph.
    page.get_by_role("link", name="Impact", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/cmdb/cis/{ci.pk}/impact/"))
    services = page.locator("#impact-business-services")
    expect(services).to_have_class(re.compile(r"\bborder-danger\b"))
    expect(services.locator(".business-service")).to_have_count(1)
    expect(services).to_contain_text("Online shop")
    expect(services).to_contain_text("billing-db → used by → Online shop")
    expect(page.locator("#impact-table tr.business-service")).to_contain_text("Online shop")
    wait_for_graph(page, 2)
    highlighted = page.evaluate("() => window.ciGraph.nodes('.affected-service').map(n => n.data('label'))")
    assert highlighted == ["Online shop"]
    assert page.evaluate("() => window.ciGraph.nodes('.start').map(n => n.data('label'))") == ["billing-db"]
    page.screenshot(path=SCREENSHOTS.format("impact"), full_page=True)

    # The Graph tab draws the neighbourhood; a click on a node opens that CI.
    page.get_by_role("link", name="Graph", exact=True).click()
    wait_for_graph(page, 2)
    expect(page.locator("#ci-graph-note")).to_contain_text("2 CIs, 1 relationship")
    page.screenshot(path=SCREENSHOTS.format("graph"), full_page=True)
    box = page.locator("#ci-graph").bounding_box()
    spot = page.evaluate(f"() => window.ciGraph.getElementById('{shop.pk}').renderedPosition()")
    page.mouse.click(box["x"] + spot["x"], box["y"] + spot["y"])
    expect(page).to_have_url(f"/cmdb/cis/{shop.pk}/")
