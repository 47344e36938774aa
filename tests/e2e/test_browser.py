"""The portal's main paths in a real browser: sign-in, the dashboard, teams, API tokens, the
list page (htmx search, sort, CSV export) and the sign-in lockout."""

import csv
import io
import re

import httpx
import pytest
from axes.models import AccessAttempt
from playwright.sync_api import expect

from accounts import services
from accounts.models import APIToken, Team
from itom.choices import ChangeAction
from itom.models import ObjectChange
from itom.roles import AGENT
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, TeamFactory, UserFactory

pytestmark = pytest.mark.browser

HOME_SCREENSHOT = "/tmp/itom-home.png"
TEAM_NAMES = ["Storage", "Network Operations", "Service Desk", "Database Administration"]


def exported_rows(page):
    """Follow the page's "Export CSV" link (with the page's session) and parse the CSV."""
    export_url = page.get_by_role("link", name="Export CSV").evaluate("a => a.href")
    response = page.request.get(export_url)
    assert response.status == 200
    return response, list(csv.reader(io.StringIO(response.text())))


def table_names(page):
    """The first-column cells (the names) of the list page's table."""
    return page.locator("#object-table tbody tr td:first-child")


def test_a_manager_signs_in_sees_the_dashboard_and_adds_a_team_whose_history_names_them(page, manager):
    network = TeamFactory(name="Network", lead=manager, members=[manager])
    services.create_api_token(manager, "Grafana", write_enabled=False)

    response = sign_in(page, manager.username)

    assert response.status == 302
    expect(page).to_have_url("/")
    expect(page.get_by_role("heading", name="Welcome, Maria Manager")).to_be_visible()
    expect(page.locator("#user-menu")).to_have_text("Maria Manager")
    for panel, title in (("teams", "Your teams"), ("tokens", "Your API tokens"), ("activity", "Recent activity")):
        expect(page.locator(f"#panel-{panel} .card-header")).to_have_text(title)
    expect(page.locator("#panel-teams")).to_contain_text("Network")
    expect(page.locator("#panel-teams")).to_contain_text("lead · 1 member")
    expect(page.locator("#panel-tokens")).to_contain_text("Grafana")
    expect(page.locator("#panel-tokens")).to_contain_text("read-only")
    expect(page.locator("#panel-activity tbody tr").first).to_be_visible()
    nav = page.get_by_role("navigation", name="Main navigation")
    expect(nav.get_by_role("link", name="Dashboard")).to_have_class(re.compile(r"\bactive\b"))
    expect(nav.get_by_role("link", name="Admin")).to_be_visible()
    page.screenshot(path=HOME_SCREENSHOT, full_page=True)

    nav.get_by_role("link", name="Teams").click()
    expect(page).to_have_url("/teams/")
    expect(page.get_by_role("heading", name="Teams")).to_be_visible()
    expect(table_names(page)).to_have_text(list(Team.objects.order_by("name").values_list("name", flat=True)))
    page.get_by_role("link", name="Add team").click()
    expect(page.get_by_role("heading", name="Add team")).to_be_visible()
    page.get_by_label("Name").fill("Storage")
    page.get_by_label("Email").fill("storage@example.com")
    page.get_by_role("button", name="Save").click()

    team = Team.objects.get(name="Storage")
    expect(page).to_have_url(f"/teams/{team.pk}/")
    expect(page.get_by_role("alert")).to_contain_text("Saved team “Storage”.")
    expect(page.get_by_role("heading", name="Storage")).to_be_visible()
    expect(page.locator("dl")).to_contain_text("storage@example.com")
    assert team.email == "storage@example.com"
    assert team.pk != network.pk

    page.get_by_role("link", name="History").click()
    expect(page).to_have_url(f"/teams/{team.pk}/history/")
    entries = page.locator(".change-entry")
    expect(entries).to_have_count(1)
    expect(entries.first.locator(".card-header")).to_contain_text("Created by maria")
    expect(entries.first.locator("tbody")).to_contain_text("storage@example.com")
    created = ObjectChange.objects.get(object_id=str(team.pk), content_type__model="team")
    assert (created.action, created.user, created.user_name) == (ChangeAction.CREATE, manager, "maria")


def test_a_read_only_api_token_is_shown_once_reads_but_cannot_write_and_stops_working_once_revoked(
    page, signed_in_manager, live_server
):
    TeamFactory(name="Network")
    page.locator("#user-menu").click()
    menu_item = page.locator(".dropdown-menu").get_by_role("link", name="API tokens")
    expect(menu_item).to_be_visible()
    menu_item.click()
    expect(page).to_have_url("/account/tokens/")
    expect(page.get_by_role("cell", name="You have no API tokens.")).to_be_visible()

    page.get_by_label("Name").fill("Ansible inventory")
    expect(page.get_by_label("Allow writes")).not_to_be_checked()
    page.get_by_role("button", name="Create token").click()

    key = page.locator("#new-token-key").inner_text().strip()
    assert re.fullmatch(r"itom_[0-9a-f]{8}_\S{40,}", key), key
    token = APIToken.objects.get(user=signed_in_manager)
    assert (token.name, token.write_enabled) == ("Ansible inventory", False)
    assert key not in token.key_hash
    row = page.get_by_role("row", name=re.compile("Ansible inventory"))
    expect(row).to_contain_text("read-only")
    expect(row).to_contain_text(f"itom_{token.prefix}_…")

    api = f"{live_server.url}/api/v1/teams/"
    headers = {"Authorization": f"Token {key}"}
    read = httpx.get(api, headers=headers, timeout=10)
    assert read.status_code == 200, read.text
    assert [t["name"] for t in read.json()["results"]] == list(
        Team.objects.order_by("name").values_list("name", flat=True)
    )
    write = httpx.post(api, headers=headers, json={"name": "Storage"}, timeout=10)
    assert write.status_code == 403, write.text
    assert "read-only" in write.json()["detail"]
    assert not Team.objects.filter(name="Storage").exists()

    page.goto("/account/tokens/")  # a fresh GET of the page: the key is gone for good
    expect(page.locator("#new-token-key")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(key)
    expect(row).to_contain_text("read-only")

    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("alert")).to_contain_text("Revoked token “Ansible inventory”.")
    expect(page.get_by_role("cell", name="You have no API tokens.")).to_be_visible()
    assert not APIToken.objects.exists()
    revoked = httpx.get(api, headers=headers, timeout=10)
    assert revoked.status_code in (401, 403), revoked.text


def test_the_team_list_searches_with_htmx_sorts_by_name_and_exports_csv(page, signed_in_manager):
    for name in TEAM_NAMES:
        TeamFactory(name=name)
    page.goto("/teams/")
    expect(table_names(page)).to_have_text(sorted(TEAM_NAMES))
    page.evaluate("window.__samePage = true")  # survives htmx swaps, not a full page load

    page.get_by_label("Search").fill("stor")
    expect(table_names(page)).to_have_text(["Storage"])
    expect(page).to_have_url(re.compile(r"/teams/\?.*\bq=stor\b"))
    page.get_by_label("Search").fill("no such team")
    expect(page.locator("#object-table tbody")).to_have_text("No teams match.")
    page.get_by_label("Search").fill("")
    expect(table_names(page)).to_have_count(len(TEAM_NAMES))

    name_header = page.locator("#object-table thead").get_by_role("link", name=re.compile("^Name"))
    name_header.click()
    expect(name_header).to_have_text("Name ▲")
    expect(table_names(page)).to_have_text(sorted(TEAM_NAMES))
    name_header.click()
    expect(name_header).to_have_text("Name ▼")
    expect(table_names(page)).to_have_text(sorted(TEAM_NAMES, reverse=True))
    expect(page).to_have_url(re.compile(r"\bsort=-name\b"))
    assert page.evaluate("window.__samePage") is True

    page.goto("/teams/")
    response, rows = exported_rows(page)
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="teams.csv"' in response.headers["content-disposition"]
    assert rows[0] == ["Name", "Email", "Lead", "Members"]
    assert [r[0] for r in rows[1:]] == sorted(TEAM_NAMES)
    assert ["Storage", "storage@example.com", "", ""] in rows

    page.goto("/teams/?q=stor")  # a filtered page exports only what it shows
    _, rows = exported_rows(page)
    assert [r[0] for r in rows] == ["Name", "Storage"]


def test_export_csv_after_an_htmx_search_exports_only_the_matching_rows(page, signed_in_manager):
    for name in TEAM_NAMES:
        TeamFactory(name=name)
    page.goto("/teams/")
    page.get_by_label("Search").fill("stor")
    expect(table_names(page)).to_have_text(["Storage"])
    _, rows = exported_rows(page)
    assert [r[0] for r in rows] == ["Name", "Storage"]


def test_a_search_after_sorting_by_a_header_keeps_the_sort(page, signed_in_manager):
    for name in TEAM_NAMES:
        TeamFactory(name=name)
    page.goto("/teams/")
    name_header = page.locator("#object-table thead").get_by_role("link", name=re.compile("^Name"))
    name_header.click()
    expect(name_header).to_have_text("Name ▲")
    name_header.click()
    expect(name_header).to_have_text("Name ▼")
    page.get_by_label("Search").fill("ti")  # matches "Network Operations" and "Database Administration"
    expect(table_names(page)).to_have_count(2)
    expect(table_names(page)).to_have_text(["Network Operations", "Database Administration"], timeout=2000)


def test_five_failed_sign_ins_lock_the_account_out_even_with_the_right_password(page, transactional_db):
    alice = UserFactory(username="alice", roles=[AGENT])
    UserFactory(username="bob", roles=[AGENT])

    first = sign_in(page, "alice", "wrong-password-1")
    assert first.status == 200
    expect(page.get_by_role("alert")).to_contain_text("Your username and password didn't match.")
    for attempt in range(2, 6):
        sign_in(page, "alice", f"wrong-password-{attempt}")
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 5

    locked = sign_in(page, "alice", PASSWORD)

    assert locked.status == 429
    expect(page.get_by_role("heading", name="Too many failed sign-in attempts")).to_be_visible()
    expect(page.locator("#user-menu")).to_have_count(0)
    page.goto("/")
    expect(page).to_have_url("/login/?next=/")
    alice.refresh_from_db()
    assert alice.last_login is None

    # The lock is for this username from this address: another person still signs in.
    sign_in(page, "bob", PASSWORD)
    expect(page).to_have_url("/")
    expect(page.get_by_role("heading", name=re.compile("^Welcome"))).to_be_visible()
