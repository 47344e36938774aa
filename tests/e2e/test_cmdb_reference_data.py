"""Relationship types and tags in a real browser: a manager adds a relationship type and a tag,
edits the tag, sees both listed, then deletes the tag; each page's History tab shows the change."""

import pytest
from playwright.sync_api import expect

from cmdb.models import RelationshipType, Tag

pytestmark = pytest.mark.browser


def test_a_manager_adds_a_relationship_type_and_a_tag(page, signed_in_manager):
    page.goto("/cmdb/relationship-types/")
    page.get_by_role("link", name="Add relationship type").click()
    page.locator("#id_slug").fill("replicates-to")
    page.locator("#id_forward_label").fill("replicates to")
    page.locator("#id_reverse_label").fill("replica of")
    page.get_by_label("Failure propagates").uncheck()
    page.get_by_role("button", name="Save").click()
    kind = RelationshipType.objects.get(slug="replicates-to")
    expect(page).to_have_url(f"/cmdb/relationship-types/{kind.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("Saved relationship type")
    assert kind.reverse_label == "replica of" and kind.propagates_failure is False
    page.goto("/cmdb/relationship-types/")
    expect(page.locator("#object-table")).to_contain_text("replicates to")

    page.goto("/cmdb/tags/")
    page.get_by_role("link", name="Add tag").click()
    page.locator("#id_name").fill("gdpr")
    page.get_by_role("button", name="Save").click()
    tag = Tag.objects.get(name="gdpr")
    expect(page).to_have_url(f"/cmdb/tags/{tag.pk}/")
    page.get_by_role("link", name="Edit").click()
    page.locator("#id_description").fill("Holds personal data")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("link", name="History").click()
    expect(page.locator("main")).to_contain_text("Holds personal data")
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url("/cmdb/tags/")
    assert not Tag.objects.filter(name="gdpr").exists()
