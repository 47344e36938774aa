import csv
import io

import pytest

from accounts.models import Team
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/teams/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/teams/")


def test_every_role_sees_the_team_list_but_only_managers_can_add(client, alice, victor, maria):
    TeamFactory(name="Network")
    for user, can_add in ((alice, False), (victor, False), (maria, True)):
        client.force_login(user)
        response = client.get("/teams/")
        assert response.status_code == 200
        assert "Network" in response.content.decode()
        assert ("Add team" in response.content.decode()) is can_add
        assert client.get("/teams/add/").status_code == (200 if can_add else 403)


def test_agents_cannot_edit_or_delete_teams(alice_client):
    team = TeamFactory()
    assert alice_client.post(f"/teams/{team.pk}/edit/", {"name": "Renamed"}).status_code == 403
    assert alice_client.post(f"/teams/{team.pk}/delete/").status_code == 403
    team.refresh_from_db()
    assert team.name != "Renamed"


def test_the_list_searches_sorts_and_paginates(maria_client):
    seeded = Team.objects.count()  # the change advisory boards a migration seeds
    for name in ("Alpha", "Bravo", "Charlie"):
        TeamFactory(name=f"A-{name}")
    body = maria_client.get("/teams/", {"q": "rav"}).content.decode()
    assert "A-Bravo" in body and "A-Alpha" not in body
    rows = maria_client.get("/teams/", {"sort": "-name", "q": "A-"}).context["rows"]
    assert [obj.name for obj, _ in rows] == ["A-Charlie", "A-Bravo", "A-Alpha"]
    page = maria_client.get("/teams/", {"sort": "name", "q": "A-", "per_page": 2, "page": 2}).context["page_obj"]
    assert [t.name for t in page.object_list] == ["A-Charlie"]
    assert seeded + 3 == Team.objects.count()


def test_an_unknown_sort_key_is_ignored_not_an_error(maria_client):
    TeamFactory()
    assert maria_client.get("/teams/", {"sort": "password"}).status_code == 200


def test_htmx_requests_get_only_the_table(maria_client):
    TeamFactory(name="Alpha")
    response = maria_client.get("/teams/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<table" in body and "Alpha" in body
    assert "<html" not in body


def test_csv_export_streams_every_matching_row_not_just_the_page(maria_client, alice):
    for i in range(60):
        TeamFactory(name=f"Team {i:02d}", lead=alice)
    TeamFactory(name="=HYPERLINK(evil)")
    response = maria_client.get("/teams/", {"export": "csv", "q": "Team"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["Name", "Email", "Lead", "Members"]
    assert len(rows) == 61
    evil = maria_client.get("/teams/", {"export": "csv", "q": "HYPER"})
    assert "'=HYPERLINK(evil)" in b"".join(evil.streaming_content).decode()


def test_a_manager_creates_edits_and_deletes_a_team_in_the_browser(maria_client, alice, bob):
    response = maria_client.post(
        "/teams/add/",
        {"name": "Storage", "email": "storage@example.com", "lead": alice.pk, "members": [alice.pk, bob.pk]},
    )
    team = Team.objects.get(name="Storage")
    assert response["Location"] == f"/teams/{team.pk}/"
    assert set(team.members.all()) == {alice, bob}
    detail = maria_client.get(f"/teams/{team.pk}/").content.decode()
    assert "storage@example.com" in detail and "History" in detail
    maria_client.post(f"/teams/{team.pk}/edit/", {"name": "Storage", "email": "san@example.com", "members": [bob.pk]})
    team.refresh_from_db()
    assert team.email == "san@example.com" and list(team.members.all()) == [bob]
    history = maria_client.get(f"/teams/{team.pk}/history/")
    assert [c.action for c in history.context["changes"]][:2] == ["update", "update"]
    assert "san@example.com" in history.content.decode()
    assert maria_client.post(f"/teams/{team.pk}/delete/").status_code == 302
    assert not Team.objects.filter(pk=team.pk).exists()


def test_bad_input_in_the_form_names_the_field_and_writes_nothing(maria_client):
    TeamFactory(name="Network")
    before = Team.objects.count()
    response = maria_client.post("/teams/add/", {"name": "Network", "email": "not-an-email"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "email"}
    assert Team.objects.count() == before


def test_the_home_page_shows_my_teams_my_tokens_and_recent_activity(alice_client, alice, network_team):
    from accounts import services

    services.create_api_token(alice, "grafana")
    body = alice_client.get("/").content.decode()
    assert "Your teams" in body and "Network" in body
    assert "Your API tokens" in body and "grafana" in body
    assert "Recent activity" in body


def test_an_invalid_filter_value_is_shown_on_the_form_not_an_error_page(maria_client):
    TeamFactory(name="Alpha")
    response = maria_client.get("/teams/", {"member": "999999", "id": "x,y"})
    assert response.status_code == 200
    assert "member" in response.context["filterset"].form.errors
    assert "Select a valid choice" in response.content.decode()


def test_a_service_error_on_a_field_the_form_lacks_is_shown_not_a_500(maria_client, monkeypatch):
    from django.core.exceptions import ValidationError

    from accounts import services

    def refuse(team, members=None):
        raise ValidationError({"budget": "Over budget.", "name": "Reserved name."})

    monkeypatch.setattr(services, "save_team", refuse)
    response = maria_client.post("/teams/add/", {"name": "Storage"})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["name"] == ["Reserved name."]
    assert form.non_field_errors() == ["Over budget."]


def test_the_list_page_costs_the_same_queries_for_many_teams_as_for_few(maria_client, alice, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_list():
        with CaptureQueriesContext(connection) as captured:
            assert maria_client.get("/teams/").status_code == 200
        return len(captured)

    TeamFactory(lead=alice, members=[alice, bob])
    few = queries_for_list()
    for _ in range(30):
        TeamFactory(lead=alice, members=[alice, bob])
    assert queries_for_list() == few
