import pytest
from django.contrib.auth.models import Group, Permission

from itom.roles import ROLES, has_role, is_manager, sync_roles

pytestmark = pytest.mark.django_db


def perms(role):
    return {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}


def test_the_data_migration_created_the_four_roles():
    assert set(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == set(ROLES)


def test_viewers_only_read_and_managers_run_teams_and_users():
    assert "accounts.view_team" in perms("viewer")
    assert not {p for p in perms("viewer") if not p.split(".")[1].startswith("view_")}
    assert {"accounts.add_team", "accounts.change_team", "auth.change_user"} <= perms("manager")
    assert "accounts.add_team" not in perms("agent")


def test_nobody_but_superusers_may_rewrite_the_audit_trail():
    for role in ROLES:
        assert not {"itom.change_objectchange", "itom.delete_objectchange"} & perms(role)


def test_sync_is_idempotent_and_keeps_an_operators_removal_of_unmatched_permissions():
    manager = Group.objects.get(name="manager")
    extra = Permission.objects.get(codename="view_session")
    manager.permissions.add(extra)
    sync_roles()
    sync_roles()
    assert extra in manager.permissions.all()  # only adds; never strips what an operator granted
    assert Group.objects.filter(name="manager").count() == 1


def test_role_helpers(alice, maria, root):
    assert has_role(alice, "agent") and not is_manager(alice)
    assert is_manager(maria) and is_manager(root)


def test_agents_work_cis_and_relationships_but_managers_shape_the_cmdb_catalogue():
    agent = perms("agent")
    assert {"cmdb.add_ci", "cmdb.change_ci", "cmdb.delete_ci", "cmdb.add_relationship", "cmdb.add_tag"} <= agent
    assert not {"cmdb.add_ciclass", "cmdb.change_attributedefinition", "cmdb.change_relationshiptype"} & agent
    assert {"cmdb.add_ciclass", "cmdb.change_attributedefinition", "cmdb.change_relationshiptype"} <= perms("manager")
    assert "cmdb.view_ciclass" in perms("viewer") and "cmdb.change_ci" not in perms("viewer")
