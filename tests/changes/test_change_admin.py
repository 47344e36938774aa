"""Change management in the admin console: managers browse every model and edit changes and
templates through the services (a refusal shows on the form, nothing is written); other roles are
kept out."""

import pytest

from changes.models import (
    ApprovalPolicy,
    BlackoutWindow,
    CalendarFeed,
    ChangeRequest,
    RiskQuestion,
    StandardChangeTemplate,
)
from changes.services import changes as services
from tests.factories import BlackoutWindowFactory, TemplateFactory, new_change

pytestmark = pytest.mark.django_db

MODELS = ["changerequest", "riskquestion", "approvalpolicy", "standardchangetemplate", "blackoutwindow", "calendarfeed"]


@pytest.mark.parametrize("model", MODELS)
def test_a_manager_opens_each_changelist_and_change_page(maria_client, maria, model):
    objects = {
        "changerequest": lambda: new_change(maria),
        "riskquestion": lambda: RiskQuestion.objects.first(),
        "approvalpolicy": lambda: ApprovalPolicy.objects.first(),
        "standardchangetemplate": lambda: TemplateFactory(),
        "blackoutwindow": lambda: BlackoutWindowFactory(),
        "calendarfeed": lambda: CalendarFeed.objects.create(user=maria),
    }
    obj = objects[model]()
    assert maria_client.get(f"/admin/changes/{model}/").status_code == 200
    assert maria_client.get(f"/admin/changes/{model}/{obj.pk}/change/").status_code == 200
    assert maria_client.get(f"/admin/changes/{model}/add/").status_code == (403 if model == "calendarfeed" else 200)


@pytest.mark.parametrize("who", ["alice", "victor"])
def test_agents_and_viewers_are_kept_out(client, people, who):
    client.force_login(people[who])
    for model in MODELS:
        response = client.get(f"/admin/changes/{model}/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], model


def change_form(**fields):
    data = {
        "title": "Made in the admin",
        "description": "",
        "justification": "",
        "type": "normal",
        "implementation_plan": "Do it.",
        "backout_plan": "Undo it.",
        "test_plan": "",
        "emergency_justification": "",
        "approval_stages-TOTAL_FORMS": "0",
        "approval_stages-INITIAL_FORMS": "0",
        "timeline-TOTAL_FORMS": "0",
        "timeline-INITIAL_FORMS": "0",
    }
    data.update(fields)
    return data


def test_a_change_added_in_the_admin_is_made_by_the_service(maria_client, maria):
    response = maria_client.post("/admin/changes/changerequest/add/", change_form())
    assert response.status_code == 302, response.context["adminform"].form.errors
    change = ChangeRequest.objects.get(title="Made in the admin")
    assert change.number.startswith("CHG") and change.requester == maria
    assert change.timeline.exists() and change.risk_factors  # the service's work, not a bare save


def test_bad_input_in_the_admin_names_the_field_and_writes_nothing(maria_client):
    response = maria_client.post(
        "/admin/changes/changerequest/add/",
        change_form(
            planned_start_0="2026-12-01", planned_start_1="10:00", planned_end_0="2026-12-01", planned_end_1="09:00"
        ),
    )
    assert response.status_code == 200
    assert "planned_end" in response.context["adminform"].form.errors
    assert not ChangeRequest.objects.exists()


def test_editing_a_closed_change_is_refused_on_the_form_not_a_500(maria_client, maria):
    change = new_change(maria, description="Before")
    services.transition(change, "canceled", user=maria, note="Not needed")
    form = change_form(title=change.title, description="After")
    form.pop("type")
    response = maria_client.post(f"/admin/changes/changerequest/{change.pk}/change/", form)
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    change.refresh_from_db()
    assert change.description == "Before"


def test_the_approve_action_approves_a_draft_template_through_the_service(maria_client, alice):
    from changes.services import templates

    draft = templates.create_template(
        user=alice, name="Restart nginx", implementation_plan="Restart.", backout_plan="Start."
    )
    response = maria_client.post(
        "/admin/changes/standardchangetemplate/",
        {"action": "approve", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert response.status_code == 200
    draft.refresh_from_db()
    assert draft.state == "approved" and draft.approved_by.username == "maria"


def test_an_approved_template_is_read_only_in_the_admin(maria_client):
    template = TemplateFactory(name="Approved one")
    page = maria_client.get(f"/admin/changes/standardchangetemplate/{template.pk}/change/")
    assert page.status_code == 200
    assert set(page.context["adminform"].form.fields) == set()
    assert StandardChangeTemplate.objects.get(pk=template.pk).name == "Approved one"


def test_a_blackout_ending_before_it_starts_is_refused(maria_client):
    response = maria_client.post(
        "/admin/changes/blackoutwindow/add/",
        {
            "name": "Backwards",
            "start_0": "2026-12-10",
            "start_1": "10:00",
            "end_0": "2026-12-09",
            "end_1": "10:00",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert not BlackoutWindow.objects.filter(name="Backwards").exists()
