"""The CMDB catalogue and import page in a real browser: a manager creates a class with two
attributes (the second row added in the page), sees the inherited ones on its page, then
previews and commits a CSV import of CIs of that class."""

import re

import pytest
from playwright.sync_api import expect

from cmdb.models import CI, CIClass
from tests.factories import TeamFactory

pytestmark = pytest.mark.browser

SCREENSHOTS = "/tmp/itom-cmdb-catalogue-{}.png"
CSV = """class,name,owner_team,ip_addresses,attr:slot,attr:blade_size
blade-server,blade-01,Compute,10.30.0.1,3,half
blade-server,blade-02,Compute,10.30.0.2,4,full
"""


def test_a_manager_creates_a_class_then_previews_and_commits_a_csv_import(page, signed_in_manager):
    TeamFactory(name="Compute")

    # The class, below Server, with an integer and a choice attribute.
    page.goto("/cmdb/classes/")
    page.get_by_role("link", name="Add CI class").click()
    page.locator("#id_name").fill("Blade server")
    page.locator("#id_slug").fill("blade-server")
    page.get_by_label(re.compile(r"^Parent class")).select_option(label="Server")
    page.locator('[name="attributes-0-name"]').fill("slot")
    page.locator('[name="attributes-0-type"]').select_option("integer")
    page.locator('[name="attributes-0-required"]').check()
    page.get_by_role("button", name="Add attribute").click()
    expect(page.locator("#attribute-rows .attribute-row")).to_have_count(2)
    expect(page.locator('[name="attributes-1-name"]')).to_be_focused()
    page.locator('[name="attributes-1-name"]').fill("blade_size")
    page.locator('[name="attributes-1-type"]').select_option("choice")
    page.locator('[name="attributes-1-choices"]').fill("half, full")
    page.screenshot(path=SCREENSHOTS.format("form"), full_page=True)
    page.get_by_role("button", name="Save").click()

    blade = CIClass.objects.get(slug="blade-server")
    expect(page).to_have_url(f"/cmdb/classes/{blade.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("Saved CI class “Blade server”.")
    expect(page.locator("#class-path")).to_contain_text("Hardware")
    attributes = page.locator("#class-attributes")
    expect(attributes.locator("tr.attribute-own")).to_have_count(2)
    expect(attributes.locator("tr", has_text="blade_size")).to_contain_text("half, full")
    expect(attributes.locator("tr", has_text="rack_unit")).to_contain_text("inherited from Hardware")
    assert {d.name: d.choices for d in blade.attribute_definitions.all()} == {
        "slot": [],
        "blade_size": ["half", "full"],
    }

    # The import page: a preview (dry run) writes nothing…
    page.get_by_role("navigation", name="CMDB sections").get_by_role("link", name="Import").click()
    expect(page).to_have_url("/cmdb/import/")
    page.get_by_label("Or paste CSV or JSON").fill(CSV)
    page.get_by_role("button", name="Preview (dry run)").click()
    report = page.locator("#import-report")
    expect(report.locator("#import-report-title")).to_contain_text("Preview (dry run): nothing has been written")
    expect(report.locator("tr.import-create")).to_have_count(2)
    expect(report.locator("tr.import-create").first).to_contain_text("blade-01")
    assert not CI.objects.exists()
    page.screenshot(path=SCREENSHOTS.format("preview"), full_page=True)

    # …and "Import" commits the same content.
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("Imported CIs: 2 created, 0 updated, 0 unchanged.")
    expect(report.locator("#import-report-title")).to_contain_text("Imported")
    cis = {ci.name: ci for ci in CI.objects.select_related("ci_class", "owner_team")}
    assert set(cis) == {"blade-01", "blade-02"}
    assert cis["blade-02"].attributes == {"slot": 4, "blade_size": "full"}
    assert cis["blade-01"].owner_team.name == "Compute" and cis["blade-01"].ci_class == blade
    report.get_by_role("link", name="blade-01").click()
    expect(page).to_have_url(f"/cmdb/cis/{cis['blade-01'].pk}/")
