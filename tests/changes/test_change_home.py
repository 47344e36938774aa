"""The Changes navigation entry and the home-page panels: "Awaiting my approval" for approvers,
"Upcoming changes" for agents, "Change KPIs" for managers."""

import pytest

from changes.choices import ChangeState, ChangeType
from tests.changes.journeys import Cast, change_in, ready_change

pytestmark = pytest.mark.django_db
S, T = ChangeState, ChangeType


@pytest.fixture
def cast(alice, network_team, nina, erin, ecab):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


def panel_keys(response):
    return [panel.key for panel, _context in response.context["panels"]]


def panel(response, key):
    return next(context for panel, context in response.context["panels"] if panel.key == key)


def test_the_navigation_shows_changes_to_whoever_may_see_them(client, victor):
    client.force_login(victor)
    body = client.get("/").content.decode()
    assert 'href="/changes/"' in body.split('aria-label="Main navigation"')[1].split("</nav>")[0]


def test_an_approver_sees_what_awaits_their_approval(client, nina, cast):
    change = change_in(S.AUTHORIZE, cast, title="Patch the edge routers")
    client.force_login(nina)
    response = client.get("/")
    data = panel(response, "changes_awaiting_approval")
    assert [stage.change.number for stage in data["stages"]] == [change.number]
    assert f"{change.get_absolute_url()}#approvals" in response.content.decode()


def test_agents_see_upcoming_changes_but_not_the_approval_or_kpi_panels(client, alice, cast):
    scheduled = change_in(S.SCHEDULED, cast, title="Patch the hypervisors")
    ready_change(cast, title="Not scheduled")
    client.force_login(alice)
    response = client.get("/")
    keys = panel_keys(response)
    assert "changes_upcoming" in keys
    assert "changes_awaiting_approval" not in keys and "changes_kpis" not in keys
    assert [c.number for c in panel(response, "changes_upcoming")["changes"]] == [scheduled.number]


def test_a_viewer_sees_no_change_panel(client, victor):
    client.force_login(victor)
    assert not [key for key in panel_keys(client.get("/")) if key.startswith("changes_")]


def test_managers_see_the_kpis_of_the_last_90_days_with_their_chart(client, maria, cast):
    change_in(S.CLOSED, cast)  # successful
    change_in(S.CLOSED, cast, T.EMERGENCY)  # successful, after its review
    client.force_login(maria)
    response = client.get("/")
    data = panel(response, "changes_kpis")
    assert data["success_rate"] == 100 and data["emergency_share"] == 50
    assert data["kpis"]["closed"] == 2
    assert [len(dataset["data"]) for dataset in data["chart"]["datasets"]] == [3, 3, 3]
    assert data["chart"]["datasets"][0]["data"][-1] == 100
    body = response.content.decode()
    assert 'id="change-kpi-chart"' in body and "chart.umd.min.js" in body
