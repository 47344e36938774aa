"""The remaining pages in a real browser: editing and deleting a team, the API docs served from
local assets, and the admin console for a manager."""

import pytest
from playwright.sync_api import expect

from accounts.models import Team
from itom.models import ObjectChange
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.browser


def test_a_manager_edits_a_teams_members_then_deletes_it(page, signed_in_manager):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Agent")
    team = TeamFactory(name="Storage", email="storage@example.com")

    page.goto(f"/teams/{team.pk}/")
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("heading", name="Edit Storage")).to_be_visible()
    page.get_by_label("Email").fill("san@example.com")
    page.get_by_label("Members").select_option(label="alice")
    page.get_by_role("button", name="Save").click()

    expect(page).to_have_url(f"/teams/{team.pk}/")
    expect(page.locator("dl")).to_contain_text("san@example.com")
    expect(page.locator("dl")).to_contain_text("alice")
    assert list(Team.objects.get(pk=team.pk).members.all()) == [alice]

    page.get_by_role("link", name="History").click()
    expect(page.locator(".change-entry", has_text="san@example.com")).to_have_count(1)
    newest = page.locator(".change-entry").first  # the form saves the fields, then the members
    expect(newest.locator("tr", has_text="Members").locator(".diff-after")).to_have_text("alice")

    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete team “Storage”?")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page).to_have_url("/teams/")
    expect(page.get_by_role("alert")).to_contain_text("Deleted team “Storage”.")
    assert not Team.objects.filter(pk=team.pk).exists()
    assert ObjectChange.objects.filter(object_id=str(team.pk), action="delete", user_name="maria").exists()


def test_the_api_docs_render_the_schema_from_local_assets(page, signed_in_manager):
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(page.url.split("/api")[0]) else None)
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .title")).to_contain_text("ITOM Portal API")
    # A large schema's operations are rendered as they scroll into view: scroll down to the teams.
    teams = page.locator(".opblock-summary-path", has_text="/api/v1/teams/")
    for _ in range(100):
        if teams.count():
            break
        page.mouse.wheel(0, 2000)
        page.wait_for_timeout(100)
    expect(teams.first).to_be_visible()
    assert outside == [], f"the docs fetched from outside the portal: {outside}"


def test_a_manager_reaches_the_admin_console_and_browses_the_audit_trail(page, signed_in_manager):
    TeamFactory(name="Network")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Admin").click()
    expect(page.locator("#site-name")).to_contain_text("ITOM Portal administration")
    page.get_by_role("link", name="Object changes").click()
    expect(page.locator("#result_list")).to_contain_text("Network")
    expect(page.get_by_role("link", name="Add object change")).to_have_count(0)
