from accounts.api.views import TeamViewSet, UserViewSet
from tests.api_testing import APIEndpointTests, ReadOnlyAPIEndpointTests
from tests.factories import TeamFactory, UserFactory


class TestTeamAPI(APIEndpointTests):
    viewset = TeamViewSet
    url_name = "api:team"
    make_object = staticmethod(lambda: TeamFactory())
    create_data = {"name": "Storage", "email": "storage@example.com", "description": "SAN and NAS"}
    update_data = {"email": "storage-team@example.com"}
    invalid_data = {"email": "not-an-address"}


class TestUserAPI(ReadOnlyAPIEndpointTests):
    viewset = UserViewSet
    url_name = "api:user"
    make_object = staticmethod(lambda: UserFactory())


def test_a_team_with_a_duplicate_name_is_a_400_naming_the_field(maria_api):
    TeamFactory(name="Network")
    response = maria_api.post("/api/v1/teams/", {"name": "Network"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_team_members_are_set_through_the_api_and_audited(maria_api, alice, bob):
    response = maria_api.post(
        "/api/v1/teams/", {"name": "Ops", "lead": alice.pk, "members": [alice.pk, bob.pk]}, format="json"
    )
    assert response.status_code == 201, response.content
    team_id = response.json()["id"]
    assert sorted(maria_api.get(f"/api/v1/teams/{team_id}/").json()["members"]) == sorted([alice.pk, bob.pk])
    response = maria_api.patch(f"/api/v1/teams/{team_id}/", {"members": [bob.pk]}, format="json")
    assert response.json()["members"] == [bob.pk]
    history = maria_api.get("/api/v1/audit/", {"object_type": "accounts.team", "object_id": team_id}).json()
    member_changes = [
        c
        for c in history["results"]
        if c["prechange_data"] and c["prechange_data"].get("members") != c["postchange_data"].get("members")
    ]
    assert any(c["postchange_data"]["members"] == [bob.pk] for c in member_changes)
    assert all(c["user_name"] == "maria" for c in history["results"])


def test_users_list_shows_roles_and_teams(victor_api, alice, network_team):
    body = victor_api.get("/api/v1/users/", {"username": "alice"}).json()
    assert body["count"] == 1
    assert body["results"][0]["roles"] == ["agent"]
    assert body["results"][0]["teams"] == [{"id": network_team.pk, "name": "Network"}]


def test_users_filter_by_role(victor_api, alice, maria):
    usernames = [u["username"] for u in victor_api.get("/api/v1/users/", {"role": "manager"}).json()["results"]]
    assert usernames == ["maria"]


def test_teams_filter_by_member_and_lead(victor_api, alice, bob, network_team, database_team):
    assert [t["name"] for t in victor_api.get("/api/v1/teams/", {"member": bob.pk}).json()["results"]] == ["Database"]
    assert [t["name"] for t in victor_api.get("/api/v1/teams/", {"lead": alice.pk}).json()["results"]] == ["Network"]
    response = victor_api.get("/api/v1/teams/", {"member": 999999})
    assert response.status_code == 400
    assert "member" in response.json()
