"""Standard change templates through ``changes.services.templates``: drafts, a manager's approval
(never the author's), revisions as new versions, retirement, and changes keeping the version they
were made from."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from changes.choices import TemplateState
from changes.models import StandardChangeTemplate
from changes.services import templates as services
from itom.api.exceptions import Conflict
from itom.models import ObjectChange
from itom.roles import MANAGER
from tests.factories import TemplateFactory, UserFactory, ci_class, new_change

pytestmark = pytest.mark.django_db

T = TemplateState
PLANS = {"implementation_plan": "Restart the service.", "backout_plan": "Nothing to back out."}


@pytest.fixture
def mike(db):
    """A second manager, to approve what maria wrote."""
    return UserFactory(username="mike", roles=[MANAGER])


def draft(user, **fields):
    fields.setdefault("name", "Restart a web node")
    return services.create_template(user=user, **{**PLANS, **fields})


# --- creation and edits -----------------------------------------------------------------------


def test_a_new_template_is_a_draft_version_1_keyed_by_its_name(alice, network_team):
    template = draft(
        alice,
        name="  Rotate TLS certificate ",
        assignment_team=network_team,
        risk_level="moderate",
        ci_classes=[ci_class("linux-server").pk],
    )
    assert template.state == T.DRAFT and template.version == 1
    assert template.key == "rotate-tls-certificate"
    assert template.name == "Rotate TLS certificate"
    assert template.author == alice and template.approved_at is None
    assert template.assignment_team == network_team and template.risk_level == "moderate"
    assert list(template.ci_classes.values_list("slug", flat=True)) == ["linux-server"]


def test_a_given_key_is_kept(alice):
    assert draft(alice, key="web-restart").key == "web-restart"


def test_a_key_already_used_is_refused_naming_the_template_and_nothing_is_written(alice):
    TemplateFactory(key="restart-a-web-node", name="Restart a web node", version=3)
    with pytest.raises(ValidationError) as derived:
        draft(alice)
    assert "Restart a web node (v3)" in derived.value.message_dict["name"][0]
    with pytest.raises(ValidationError) as given:
        draft(alice, name="Another", key="restart-a-web-node")
    assert "revise that template" in given.value.message_dict["key"][0]
    assert StandardChangeTemplate.objects.count() == 1


def test_missing_plans_and_name_are_refused_per_field(alice):
    with pytest.raises(ValidationError) as refused:
        services.create_template(user=alice, name="", implementation_plan="  ", backout_plan="")
    assert {"name", "implementation_plan", "backout_plan"} <= set(refused.value.message_dict)
    assert not StandardChangeTemplate.objects.exists()


def test_unknown_fields_and_ci_classes_are_refused(alice):
    with pytest.raises(ValidationError) as unknown_field:
        draft(alice, state="approved")
    assert "state" in unknown_field.value.message_dict
    with pytest.raises(ValidationError) as unknown_class:
        draft(alice, ci_classes=[999999])
    assert unknown_class.value.message_dict == {"ci_classes": ["Unknown CI classes: 999999."]}
    with pytest.raises(ValidationError) as bad_level:
        draft(alice, risk_level="extreme")
    assert "risk_level" in bad_level.value.message_dict
    assert not StandardChangeTemplate.objects.exists()


def test_a_draft_is_edited_and_its_classes_replaced(alice):
    template = draft(alice, ci_classes=[ci_class("server")])
    services.update_template(
        template, user=alice, backout_plan=" Roll back the package. ", ci_classes=[ci_class("linux-server")]
    )
    template.refresh_from_db()
    assert template.backout_plan == "Roll back the package."
    assert list(template.ci_classes.values_list("slug", flat=True)) == ["linux-server"]


def test_an_approved_template_is_not_edited_but_revised(alice):
    template = TemplateFactory(name="Patch", key="patch")
    with pytest.raises(Conflict) as refused:
        services.update_template(template, user=alice, name="Patched")
    assert "revise it" in str(refused.value.detail)
    template.refresh_from_db()
    assert template.name == "Patch"


def test_the_key_is_not_edited(alice):
    template = draft(alice)
    with pytest.raises(ValidationError) as refused:
        services.update_template(template, user=alice, key="other")
    assert "key" in refused.value.message_dict


# --- approval ---------------------------------------------------------------------------------


def test_a_manager_approves_a_draft_into_the_catalogue(alice, maria):
    template = draft(alice)
    services.approve_template(template, user=maria)
    template.refresh_from_db()
    assert template.state == T.APPROVED
    assert template.approved_by == maria and template.approved_at is not None
    assert list(services.catalogue()) == [template]
    assert ObjectChange.objects.filter(object_id=str(template.pk), postchange_data__state="approved").exists()


def test_an_agent_cannot_approve_a_template(alice, bob):
    template = draft(alice)
    with pytest.raises(PermissionDenied, match="Only managers"):
        services.approve_template(template, user=bob)
    template.refresh_from_db()
    assert template.state == T.DRAFT


def test_a_manager_cannot_approve_the_template_they_wrote(maria):
    template = draft(maria)
    with pytest.raises(PermissionDenied, match="you wrote"):
        services.approve_template(template, user=maria)
    template.refresh_from_db()
    assert template.state == T.DRAFT


def test_only_a_draft_is_approved(maria):
    template = TemplateFactory(state="retired")
    with pytest.raises(Conflict):
        services.approve_template(template, user=maria)


# --- revisions --------------------------------------------------------------------------------


def test_revising_an_approved_template_makes_the_next_version_as_a_draft(alice, bob, maria, network_team):
    v1 = draft(alice, assignment_team=network_team, ci_classes=[ci_class("server")], test_plan="Curl it.")
    services.approve_template(v1, user=maria)

    v2 = services.revise_template(v1, user=bob)

    assert (v2.key, v2.version, v2.state, v2.author) == (v1.key, 2, T.DRAFT, bob)
    assert (v2.name, v2.implementation_plan, v2.backout_plan, v2.test_plan) == (
        v1.name,
        v1.implementation_plan,
        v1.backout_plan,
        "Curl it.",
    )
    assert v2.assignment_team == network_team
    assert list(v2.ci_classes.values_list("slug", flat=True)) == ["server"]
    v1.refresh_from_db()
    assert v1.state == T.APPROVED  # still the catalogue's version until v2 is approved


def test_a_second_revision_while_a_draft_exists_is_refused_naming_the_draft(alice, maria):
    v1 = TemplateFactory(name="Patch", key="patch")
    services.revise_template(v1, user=alice)
    with pytest.raises(Conflict) as refused:
        services.revise_template(v1, user=maria)
    assert "Patch (v2) is already a draft" in str(refused.value.detail)
    assert StandardChangeTemplate.objects.filter(key="patch").count() == 2


def test_a_draft_or_a_retired_version_is_not_revised(alice):
    with pytest.raises(Conflict):
        services.revise_template(draft(alice), user=alice)
    with pytest.raises(Conflict):
        services.revise_template(TemplateFactory(state="retired"), user=alice)


def test_approving_a_revision_retires_the_previous_version(alice, bob, maria, mike):
    v1 = draft(alice)
    services.approve_template(v1, user=maria)
    v2 = services.revise_template(v1, user=maria)
    services.update_template(v2, user=maria, implementation_plan="Drain first, then restart.")

    services.approve_template(v2, user=mike)

    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.state, v2.state) == (T.RETIRED, T.APPROVED)
    assert list(services.catalogue()) == [v2]
    v3 = services.revise_template(v2, user=bob)
    assert v3.version == 3 and v3.implementation_plan == "Drain first, then restart."


def test_a_change_keeps_the_version_it_was_made_from(alice, maria, mike, network_team):
    v1 = services.approve_template(draft(alice, assignment_team=network_team), user=maria)
    change = new_change(alice, type="standard", template=v1)
    v2 = services.revise_template(v1, user=maria)
    services.update_template(v2, user=maria, implementation_plan="A new way.")
    v2 = services.approve_template(v2, user=mike)

    change.refresh_from_db()
    v1.refresh_from_db()
    assert change.template == v1 and v1.state == T.RETIRED
    assert change.implementation_plan == v1.implementation_plan != "A new way."
    later = new_change(alice, type="standard", template=v2)
    assert later.template == v2 and later.implementation_plan == "A new way."


# --- retirement -------------------------------------------------------------------------------


def test_a_manager_retires_a_template_and_it_leaves_the_catalogue(maria):
    template = TemplateFactory()
    services.retire_template(template, user=maria)
    template.refresh_from_db()
    assert template.state == T.RETIRED
    assert not services.catalogue().exists()
    with pytest.raises(Conflict, match="already retired"):
        services.retire_template(template, user=maria)


def test_an_agent_cannot_retire_a_template(alice):
    template = TemplateFactory()
    with pytest.raises(PermissionDenied):
        services.retire_template(template, user=alice)
    template.refresh_from_db()
    assert template.state == T.APPROVED


def test_a_retired_draft_makes_room_for_a_new_revision(alice, maria):
    v1 = TemplateFactory(name="Patch", key="patch")
    v2 = services.revise_template(v1, user=alice)
    services.retire_template(v2, user=maria)
    v3 = services.revise_template(v1, user=alice)
    assert v3.version == 3 and v3.state == T.DRAFT
