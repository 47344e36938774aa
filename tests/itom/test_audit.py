"""One ObjectChange per create, update, delete and m2m change, whatever the entry point."""

import uuid

import pytest
from django.contrib.contenttypes.models import ContentType

from accounts import tasks
from accounts.models import Team
from itom.context import acting_as
from itom.models import ObjectChange
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def changes_of(obj):
    return ObjectChange.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).order_by("id")


def test_create_update_and_delete_each_leave_one_row_with_before_and_after():
    with acting_as(label="test"):
        team = Team.objects.create(name="Storage", email="a@example.com")
        team.email = "b@example.com"
        team.save()
        team_pk = team.pk
        team.delete()
    team.pk = team_pk
    create, update, delete = changes_of(team)
    assert (create.action, create.prechange_data, create.postchange_data["email"]) == ("create", None, "a@example.com")
    assert update.action == "update"
    assert update.diff == {"email": ("a@example.com", "b@example.com")}
    assert (delete.action, delete.prechange_data["name"], delete.postchange_data) == ("delete", "Storage", None)
    assert {c.user_name for c in (create, update, delete)} == {"test"}


def test_a_save_that_changes_nothing_is_not_logged():
    team = TeamFactory()
    team.save()
    assert changes_of(team).count() == 1


def test_adding_and_removing_members_is_logged_on_the_team_from_either_side():
    team = TeamFactory()
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    team.members.add(alice)
    bob.teams.add(team)  # the reverse side of the same relation
    team.members.remove(alice)
    member_rows = [c for c in changes_of(team) if c.action == "update"]
    assert [c.postchange_data["members"] for c in member_rows] == [[alice.pk], sorted([alice.pk, bob.pk]), [bob.pk]]
    assert member_rows[0].prechange_data["members"] == []


def test_clearing_members_from_the_user_side_is_logged_on_each_team():
    alice = UserFactory(username="alice")
    teams = [TeamFactory(members=[alice]), TeamFactory(members=[alice])]
    alice.teams.clear()
    for team in teams:
        last = changes_of(team).last()
        assert last.prechange_data["members"] == [alice.pk]
        assert last.postchange_data["members"] == []


def test_user_changes_are_audited_without_the_password():
    user = UserFactory(username="carol")
    user.set_password("another-long-password-1")
    user.first_name = "Carol"
    user.save()
    rows = list(changes_of(user))
    assert all("password" not in (row.postchange_data or {}) for row in rows)
    assert rows[-1].diff == {"first_name": (rows[-1].prechange_data["first_name"], "Carol")}


def test_a_team_created_in_the_browser_is_attributed_to_the_signed_in_user(maria_client, maria):
    response = maria_client.post("/teams/add/", {"name": "Storage", "email": "storage@example.com"})
    assert response.status_code == 302
    change = changes_of(Team.objects.get(name="Storage")).get()
    assert change.user == maria
    assert change.user_name == "maria"
    assert response["X-Request-ID"] == str(change.request_id)


def test_a_team_created_in_the_admin_is_attributed_to_the_manager(maria_client, maria):
    response = maria_client.post(
        "/admin/accounts/team/add/", {"name": "Backup", "email": "", "description": "", "members": []}
    )
    assert response.status_code == 302, response.content[:2000]
    change = changes_of(Team.objects.get(name="Backup")).get()
    assert (change.user, change.action) == (maria, "create")


def test_a_team_created_through_the_api_is_attributed_to_the_token_owner(maria_api, maria):
    response = maria_api.post(
        "/api/v1/teams/", {"name": "Mainframe"}, format="json", HTTP_X_REQUEST_ID=str(uuid.uuid4())
    )
    change = changes_of(Team.objects.get(pk=response.json()["id"])).get()
    assert change.user == maria
    assert str(change.request_id) == response["X-Request-ID"]


def test_a_team_created_by_a_celery_task_names_the_task_or_the_user_it_acted_for(maria):
    tasks.import_teams.apply(kwargs={"rows": [{"name": "Unattended"}]})
    tasks.import_teams.apply(kwargs={"rows": [{"name": "On behalf"}], "acting_user_id": maria.pk})
    unattended = changes_of(Team.objects.get(name="Unattended")).get()
    assert (unattended.user, unattended.user_name) == (None, "task:accounts.tasks.import_teams")
    on_behalf = changes_of(Team.objects.get(name="On behalf")).get()
    assert (on_behalf.user, on_behalf.user_name) == (maria, "maria")


def test_a_task_that_fails_validation_writes_nothing():
    result = tasks.import_teams.apply(kwargs={"rows": [{"name": "Good"}, {"name": "Bad", "email": "nope"}]})
    assert result.failed()
    assert "rows[1].email" in str(result.result)
    assert not Team.objects.filter(name="Good").exists()


def test_all_audit_rows_of_one_request_share_its_request_id(maria_client):
    maria_client.post("/teams/add/", {"name": "Storage"})
    rows = ObjectChange.objects.filter(object_repr="Storage")
    assert rows.count() >= 1
    assert len({row.request_id for row in rows}) == 1


def test_values_of_every_kind_are_kept_as_json():
    import datetime
    import decimal

    from itom.audit import jsonable

    assert jsonable(datetime.date(2026, 11, 24)) == "2026-11-24"
    assert jsonable(decimal.Decimal("12.50")) == "12.50"
    assert jsonable(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert jsonable({"os": "debian", "cpus": [1, 2]}) == {"os": "debian", "cpus": [1, 2]}
    assert jsonable(1.5) == 1.5


def test_pruning_deletes_old_audit_rows_in_one_statement(settings, django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    from itom.tasks import prune_audit_log

    for _ in range(5):
        TeamFactory()
    ObjectChange.objects.update(time=timezone.now() - timedelta(days=settings.AUDIT_RETENTION_DAYS + 1))
    recent = TeamFactory()
    with django_assert_num_queries(1):  # a fast delete: no rows loaded, no signals
        assert prune_audit_log() == 5
    assert list(ObjectChange.objects.values_list("object_id", flat=True)) == [str(recent.pk)]
