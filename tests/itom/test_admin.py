import pytest

from itom.models import ObjectChange
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("who", "allowed"), [("alice", False), ("victor", False), ("maria", True), ("root", True)])
def test_the_admin_console_is_for_managers_and_superusers_only(client, people, who, allowed):
    client.force_login(people[who])
    response = client.get("/admin/")
    if allowed:
        assert response.status_code == 200
        assert "ITOM Portal administration" in response.content.decode()
    else:
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_managers_browse_teams_users_roles_and_the_audit_trail(maria_client):
    TeamFactory(name="Network")
    for url in ("/admin/accounts/team/", "/admin/auth/user/", "/admin/auth/group/", "/admin/itom/objectchange/"):
        assert maria_client.get(url).status_code == 200, url
    change = ObjectChange.objects.filter(object_repr="Network").first()
    page = maria_client.get(f"/admin/itom/objectchange/{change.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # read-only


def test_nobody_edits_or_deletes_the_audit_trail_in_the_admin(client, root):
    TeamFactory(name="Network")
    client.force_login(root)
    change = ObjectChange.objects.filter(object_repr="Network").first()
    assert client.post(f"/admin/itom/objectchange/{change.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/itom/objectchange/add/").status_code == 403
    assert ObjectChange.objects.filter(pk=change.pk).exists()


def test_a_manager_cannot_make_anyone_a_superuser(maria_client, alice):
    page = maria_client.get(f"/admin/auth/user/{alice.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page


def test_the_admin_link_shows_only_for_managers(client, alice, maria):
    client.force_login(alice)
    assert 'href="/admin/"' not in client.get("/").content.decode()
    client.force_login(maria)
    assert 'href="/admin/"' in client.get("/").content.decode()
