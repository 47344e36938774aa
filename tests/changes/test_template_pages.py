"""The standard-change template pages: the catalogue (approved templates with "Use") and its
draft and retired tabs, a template's page with its versions and the actions its state allows, the
draft form (bad input on its fields, nothing written), approval by another manager, revision and
retirement — per role."""

import html

import pytest

from changes.models import StandardChangeTemplate
from itom.roles import MANAGER
from tests.factories import TemplateFactory, UserFactory

pytestmark = pytest.mark.django_db

DRAFT = {
    "name": "Restart a web node",
    "implementation_plan": "Drain it, restart it, undrain it.",
    "backout_plan": "Nothing to back out: it is a restart.",
    "risk_level": "low",
}


@pytest.fixture
def olga(db):
    """A second manager: the one who approves maria's drafts."""
    return UserFactory(username="olga", roles=[MANAGER])


def names(response):
    return [row[0].name for row in response.context["rows"]]


def test_the_catalogue_lists_approved_templates_with_use_and_the_tabs_the_others(client, alice):
    approved = TemplateFactory(name="Rotate TLS certificate")
    TemplateFactory(name="Draft idea", state="draft")
    TemplateFactory(name="Old recipe", state="retired")
    client.force_login(alice)
    response = client.get("/changes/templates/")
    assert names(response) == ["Rotate TLS certificate"]
    assert f'href="/changes/new/?template={approved.pk}"' in response.content.decode()
    assert names(client.get("/changes/templates/", {"state": "draft"})) == ["Draft idea"]
    assert sorted(names(client.get("/changes/templates/", {"state": ""}))) == [
        "Draft idea",
        "Old recipe",
        "Rotate TLS certificate",
    ]


def test_a_viewer_reads_the_catalogue_without_use_or_new(client, victor):
    template = TemplateFactory(name="Rotate TLS certificate")
    client.force_login(victor)
    body = client.get("/changes/templates/").content.decode()
    assert "Rotate TLS certificate" in body
    assert f"?template={template.pk}" not in body and "New template" not in body
    assert client.get("/changes/templates/new/").status_code == 403


def test_an_agent_writes_a_draft_and_edits_it(client, alice):
    client.force_login(alice)
    response = client.post("/changes/templates/new/", DRAFT)
    template = StandardChangeTemplate.objects.get()
    assert response["Location"] == f"/changes/templates/{template.pk}/"
    assert (template.state, template.version, template.key, template.author) == (
        "draft",
        1,
        "restart-a-web-node",
        alice,
    )
    client.post(f"/changes/templates/{template.pk}/edit/", {**DRAFT, "test_plan": "Curl the health page."})
    template.refresh_from_db()
    assert template.test_plan == "Curl the health page."


def test_a_draft_without_plans_shows_the_field_errors_and_nothing_is_written(client, alice):
    client.force_login(alice)
    response = client.post("/changes/templates/new/", {"name": "Half a recipe", "risk_level": "low"})
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "implementation_plan" in errors and "backout_plan" in errors
    assert not StandardChangeTemplate.objects.exists()


def test_a_key_in_use_is_refused_on_the_key_field(client, alice):
    TemplateFactory(key="restart-a-web-node")
    client.force_login(alice)
    response = client.post("/changes/templates/new/", {**DRAFT, "key": "restart-a-web-node"})
    assert "is taken by" in " ".join(response.context["form"].errors["key"])
    assert StandardChangeTemplate.objects.count() == 1


def test_another_manager_approves_a_draft_into_the_catalogue(client, maria, olga):
    draft = TemplateFactory(state="draft", author=maria)
    client.force_login(maria)
    page = client.get(f"/changes/templates/{draft.pk}/")
    assert page.context["own_draft"] and not page.context["can_approve"]
    response = client.post(f"/changes/templates/{draft.pk}/approve/")
    assert response.status_code == 403
    assert "You can't approve a template you wrote: another manager must." in html.unescape(response.content.decode())
    draft.refresh_from_db()
    assert draft.state == "draft"
    client.force_login(olga)
    assert client.get(f"/changes/templates/{draft.pk}/").context["can_approve"]
    client.post(f"/changes/templates/{draft.pk}/approve/")
    draft.refresh_from_db()
    assert draft.state == "approved" and draft.approved_by == olga


def test_an_agent_may_not_approve_or_retire(client, alice, maria):
    draft = TemplateFactory(state="draft", author=maria)
    approved = TemplateFactory()
    client.force_login(alice)
    body = client.get(f"/changes/templates/{draft.pk}/").content.decode()
    assert "/approve/" not in body
    assert client.post(f"/changes/templates/{draft.pk}/approve/").status_code == 403
    assert client.post(f"/changes/templates/{approved.pk}/retire/").status_code == 403
    draft.refresh_from_db()
    approved.refresh_from_db()
    assert (draft.state, approved.state) == ("draft", "approved")


def test_revising_makes_the_next_draft_and_approving_it_retires_the_previous(client, alice, olga):
    v1 = TemplateFactory(key="patch-linux", name="Patch a Linux host")
    client.force_login(alice)
    response = client.post(f"/changes/templates/{v1.pk}/revise/")
    v2 = StandardChangeTemplate.objects.get(key="patch-linux", version=2)
    assert response["Location"] == f"/changes/templates/{v2.pk}/"
    assert v2.state == "draft" and v2.name == "Patch a Linux host"
    again = client.post(f"/changes/templates/{v1.pk}/revise/", follow=True)
    assert any("already a draft" in str(m) for m in again.context["messages"])
    versions = client.get(f"/changes/templates/{v2.pk}/").context["versions"]
    assert [v.version for v in versions] == [2, 1]
    client.force_login(olga)
    client.post(f"/changes/templates/{v2.pk}/approve/")
    v1.refresh_from_db()
    assert v1.state == "retired"


def test_an_approved_template_is_revised_not_edited(client, alice):
    approved = TemplateFactory()
    client.force_login(alice)
    response = client.get(f"/changes/templates/{approved.pk}/edit/")
    assert response["Location"] == f"/changes/templates/{approved.pk}/"
    client.post(f"/changes/templates/{approved.pk}/edit/", {**DRAFT, "name": "Changed"})
    approved.refresh_from_db()
    assert approved.name != "Changed"


def test_a_manager_retires_a_template_and_it_leaves_the_catalogue(client, maria):
    template = TemplateFactory(name="Old recipe")
    client.force_login(maria)
    client.post(f"/changes/templates/{template.pk}/retire/")
    template.refresh_from_db()
    assert template.state == "retired"
    assert names(client.get("/changes/templates/")) == []


def test_the_history_tab_shows_the_audit_trail(client, alice):
    client.force_login(alice)
    client.post("/changes/templates/new/", DRAFT)
    template = StandardChangeTemplate.objects.get()
    response = client.get(f"/changes/templates/{template.pk}/history/")
    assert response.status_code == 200 and "change-entry" in response.content.decode()
