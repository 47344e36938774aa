"""``/api/v1/changes/templates/``: agents write drafts; managers approve them (never their own)
and retire them; an approved template is revised into a new draft version; a template is never
deleted (405)."""

import pytest

from changes.api.configuration import TemplateViewSet
from changes.models import StandardChangeTemplate
from tests.api_testing import EVERYONE, APIEndpointTests
from tests.conftest import token_client
from tests.factories import TemplateFactory, ci_class

pytestmark = pytest.mark.django_db

TEMPLATES = "/api/v1/changes/templates/"


def turl(template, action=""):
    return f"{TEMPLATES}{template.pk}/{action + '/' if action else ''}"


class TestTemplateAPI(APIEndpointTests):
    viewset = TemplateViewSet
    url_name = "api:change-template"
    make_object = staticmethod(lambda: TemplateFactory(state="draft"))
    create_data = {
        "name": "Renew a TLS certificate",
        "implementation_plan": "Issue, deploy, reload.",
        "backout_plan": "Deploy the previous certificate.",
    }
    update_data = {"description": "For certificates issued by the internal CA."}
    invalid_data = {"risk_level": "extreme"}
    writers = ("alice", "bob", "maria", "root")

    def test_writers_can_delete_and_the_deletion_is_audited(self, people, make_api_client):
        """Templates are retired, never deleted: 405 for managers, 403 for agents."""
        obj = self.make_object()
        for name in self.writers:
            expected = 405 if name in ("maria", "root") else 403
            assert make_api_client(people[name]).delete(self.detail_url(obj)).status_code == expected, name
        assert StandardChangeTemplate.objects.filter(pk=obj.pk).exists()

    def test_other_roles_cannot_update_or_delete(self, people, make_api_client):
        obj = self.make_object()
        for name in set(EVERYONE) - set(self.writers):
            client = make_api_client(people[name])
            assert client.patch(self.detail_url(obj), self.data("update_data"), format="json").status_code == 403
            assert client.delete(self.detail_url(obj)).status_code == 403
        assert StandardChangeTemplate.objects.filter(pk=obj.pk).exists()


def test_an_agent_drafts_and_a_manager_approves_into_the_catalogue(alice, maria):
    response = token_client(alice).post(
        TEMPLATES, {**TestTemplateAPI.create_data, "ci_classes": ["linux-server"]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["key"], body["version"], body["state"], body["author"]) == (
        "renew-a-tls-certificate",
        1,
        "draft",
        alice.pk,
    )
    assert body["ci_classes"] == [ci_class("linux-server").pk]
    template = StandardChangeTemplate.objects.get(pk=body["id"])
    assert token_client(alice).post(turl(template, "approve")).status_code == 403
    response = token_client(maria).post(turl(template, "approve"))
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["approved_by"]) == ("approved", maria.pk)
    catalogue = token_client(alice).get(TEMPLATES, {"state": "approved"}).json()["results"]
    assert [t["id"] for t in catalogue] == [template.pk]


def test_a_manager_cannot_approve_their_own_draft(maria):
    template = TemplateFactory(state="draft", author=maria)
    response = token_client(maria).post(turl(template, "approve"))
    assert response.status_code == 403
    template.refresh_from_db()
    assert template.state == "draft"


def test_revising_makes_the_next_draft_and_approving_it_retires_the_old_version(alice, maria, root):
    approved = TemplateFactory(name="Patch a web node", key="patch-web-node")
    response = token_client(alice).post(turl(approved, "revise"))
    assert response.status_code == 201, response.content
    draft = StandardChangeTemplate.objects.get(pk=response.json()["id"])
    assert (draft.key, draft.version, draft.state) == ("patch-web-node", 2, "draft")
    assert token_client(alice).post(turl(approved, "revise")).status_code == 409
    assert token_client(maria).post(turl(draft, "approve")).status_code == 200
    approved.refresh_from_db()
    assert approved.state == "retired"


def test_an_approved_template_is_not_edited_in_place(alice):
    template = TemplateFactory(name="Rotate logs")
    response = token_client(alice).patch(turl(template), {"name": "Rotate all logs"}, format="json")
    assert response.status_code == 409
    template.refresh_from_db()
    assert template.name == "Rotate logs"


def test_the_key_is_kept_across_versions(alice):
    template = TemplateFactory(state="draft", key="restart-nginx")
    response = token_client(alice).patch(turl(template), {"key": "bounce-nginx"}, format="json")
    assert response.status_code == 400
    assert "key" in response.json()


def test_only_managers_retire_a_template(alice, maria):
    template = TemplateFactory(name="Clear a cache")
    assert token_client(alice).post(turl(template, "retire")).status_code == 403
    response = token_client(maria).post(turl(template, "retire"))
    assert response.status_code == 200
    assert response.json()["state"] == "retired"
    assert token_client(maria).post(turl(template, "retire")).status_code == 409
