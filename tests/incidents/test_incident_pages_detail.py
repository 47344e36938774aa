"""An incident's page with Django's client: fields, affected CIs and business services, SLA
badges, the timeline (comments, work notes, files), the actions its state allows (assign to me,
assign, hold, resolve, reopen, cancel), refusals shown on the action's form with nothing
written (409 for a move the state no longer allows), the major-incident actions, suggested
known errors, and the SLA and History tabs."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import Attachment, Incident, TimelineEntry
from incidents.services import incidents as services
from slas.models import BusinessCalendar
from tests.factories import CIFactory, KnownErrorFactory, ci_class, link, sla_policy

pytestmark = pytest.mark.django_db


@pytest.fixture
def policy(db):
    calendar = BusinessCalendar.objects.create(name="24 × 7", always_open=True, time_zone="Europe/Paris")
    return sla_policy(name="Round the clock", calendar=calendar)


def open_incident(user, **fields):
    fields.setdefault("title", "Mail is down")
    return services.create_incident(user=user, **fields)


def url(incident, action=""):
    return f"/incidents/{incident.pk}/{action + '/' if action else ''}"


def timeline_kinds(incident):
    return list(TimelineEntry.objects.filter(incident=incident).order_by("time", "id").values_list("kind", flat=True))


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# The page --------------------------------------------------------------------------------------
def test_the_page_shows_fields_cis_services_sla_and_timeline(alice_client, alice, network_team, policy):
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    db = CIFactory(name="shop-db", ci_class=ci_class("database"))
    link(shop, db)
    incident = open_incident(
        alice,
        description="Checkout answers 504.",
        impact=1,
        urgency=2,
        assignment_team=network_team,
        affected_cis=[db],
        caller_contact="Sam at the shop",
    )
    response = alice_client.get(url(incident))
    body = response.content.decode()
    assert response.status_code == 200
    for text in (incident.number, "Mail is down", "Checkout answers 504.", "Sam at the shop", "Network"):
        assert text in body
    assert 'id="affected-cis"' in body and "shop-db" in body
    assert "Online shop" in body.split('id="affected-services"')[1]
    assert [c.metric for c in response.context["clocks"]] == ["response", "resolution"]
    header = body.split('id="incident-sla-badges"')[1].split('<ul class="nav nav-tabs')[0]
    assert header.count("data-sla-metric=") == 2
    assert 'data-kind="state"' in body  # the opening line


def test_the_actions_follow_the_state(alice_client, alice, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    moves = [move["label"] for move in alice_client.get(url(incident)).context["moves"]]
    assert moves == ["Start work", "Put on hold", "Resolve", "Cancel incident"]
    services.transition(incident, "resolved", user=alice, resolution_code="solved", note="Rebooted")
    response = alice_client.get(url(incident))
    assert [move["label"] for move in response.context["moves"]] == ["Reopen", "Close"]
    assert response.context["can_promote"] is False
    services.transition(incident, "closed", user=alice)
    closed = alice_client.get(url(incident))
    assert closed.context["moves"] == [] and not closed.context["can_assign_to_me"]
    assert f'href="/incidents/{incident.pk}/edit/"' not in closed.content.decode()


def test_a_viewer_sees_the_page_but_no_action_and_may_not_post_one(client, victor, alice):
    incident = open_incident(alice)
    client.force_login(victor)
    body = client.get(url(incident)).content.decode()
    assert 'id="incident-actions"' not in body and 'id="comment-form"' not in body
    for action, data in [
        ("assign-to-me", {}),
        ("transition", {"state": "in_progress"}),
        ("comment", {"body": "hi", "kind": "comment"}),
        ("promote", {}),
    ]:
        assert client.post(url(incident, action), data).status_code == 403
    assert Incident.objects.get().state == "new" and timeline_kinds(incident) == ["state"]


def test_the_page_runs_a_bounded_number_of_queries(alice_client, alice, network_team, policy):
    cis = [CIFactory(name=f"ci-{i}") for i in range(3)]
    incident = open_incident(alice, assignment_team=network_team, affected_cis=cis)
    with CaptureQueriesContext(connection) as first:
        alice_client.get(url(incident))
    for i in range(20):
        services.add_comment(incident, user=alice, body=f"Comment {i}", public=i % 2 == 0)
    more = [CIFactory(name=f"more-{i}") for i in range(5)]
    services.update_incident(incident, user=alice, affected_cis=cis + more)
    with CaptureQueriesContext(connection) as second:
        alice_client.get(url(incident))
    assert len(first) == len(second)


# Assignment ------------------------------------------------------------------------------------
def test_assign_to_me_puts_the_incident_on_my_plate(alice_client, alice, network_team, policy):
    incident = open_incident(alice, assignment_team=network_team)
    response = alice_client.post(url(incident, "assign-to-me"), follow=True)
    assert f"{incident.number} is assigned to you." in messages_of(response)
    incident.refresh_from_db()
    assert incident.assignee == alice and incident.first_responded_at is not None
    assert "assignment" in timeline_kinds(incident)


def test_assign_to_me_refused_is_said_and_nothing_changes(client, bob, alice, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    client.force_login(bob)
    response = client.post(url(incident, "assign-to-me"), follow=True)
    assert any("not a member of Network" in text for text in messages_of(response))
    incident.refresh_from_db()
    assert incident.assignee is None


def test_the_assign_form_assigns_and_a_bad_pick_is_shown_on_it(alice_client, alice, bob, network_team, database_team):
    incident = open_incident(alice)
    bad = alice_client.post(url(incident, "assign"), {"assignment_team": network_team.pk, "assignee": bob.pk})
    assert bad.status_code == 200
    assert bad.context["open_action"] == "assign_form"
    assert "not a member of Network" in " ".join(bad.context["assign_form"].errors["assignee"])
    assert 'id="action-assign"' in bad.content.decode() and "collapse show" in bad.content.decode()
    incident.refresh_from_db()
    assert incident.assignment_team is None and timeline_kinds(incident) == ["state"]
    good = alice_client.post(url(incident, "assign"), {"assignment_team": database_team.pk, "assignee": bob.pk})
    assert good.status_code == 302
    incident.refresh_from_db()
    assert incident.assignment_team == database_team and incident.assignee == bob


# State changes ---------------------------------------------------------------------------------
def test_hold_without_a_reason_is_refused_on_its_form(alice_client, alice):
    incident = open_incident(alice)
    response = alice_client.post(url(incident, "transition"), {"state": "on_hold", "note": "waiting"})
    assert response.status_code == 200
    assert response.context["open_action"] == "move-on_hold"
    form = response.context["action_forms"]["on_hold"]
    assert "needs a reason" in " ".join(form.errors["hold_reason"])
    assert 'id="action-move-on_hold"' in response.content.decode()
    incident.refresh_from_db()
    assert incident.state == "new" and timeline_kinds(incident) == ["state"]


def test_resolve_needs_a_code_and_notes(alice_client, alice):
    incident = open_incident(alice)
    response = alice_client.post(url(incident, "transition"), {"state": "resolved", "resolution_code": ""})
    form = response.context["action_forms"]["resolved"]
    assert set(form.errors) == {"resolution_code", "note"}
    assert "resolution notes" in " ".join(form.errors["note"])
    incident.refresh_from_db()
    assert incident.state == "new"


def test_hold_resume_resolve_reopen_and_close(alice_client, alice, network_team, policy):
    incident = open_incident(alice, assignment_team=network_team, assignee=alice)
    steps = [
        ({"state": "on_hold", "hold_reason": "awaiting_caller", "note": "Asked for a screenshot"}, "on_hold"),
        ({"state": "in_progress"}, "in_progress"),
        ({"state": "resolved", "resolution_code": "workaround", "note": "Restarted the pool"}, "resolved"),
        ({"state": "in_progress", "note": "Came back"}, "in_progress"),
        ({"state": "resolved", "resolution_code": "solved", "note": "Patched"}, "resolved"),
        ({"state": "closed"}, "closed"),
    ]
    for data, state in steps:
        response = alice_client.post(url(incident, "transition"), data)
        assert response.status_code == 302, data
        incident.refresh_from_db()
        assert incident.state == state
    page = alice_client.get(url(incident))
    summaries = [entry.summary for entry in page.context["timeline_page"] if entry.kind == "state"]
    assert "New → On hold · Awaiting caller" in summaries
    assert "Reopened (Resolved → In progress)" in summaries
    assert "In progress → Resolved · Solved (permanently)" in summaries
    assert "Patched" in page.content.decode()


def test_a_move_the_state_no_longer_allows_answers_409_with_the_allowed_ones(alice_client, alice):
    incident = open_incident(alice)
    services.transition(incident, "canceled", user=alice, note="Duplicate")
    response = alice_client.post(url(incident, "transition"), {"state": "in_progress"})
    assert response.status_code == 409
    body = response.content.decode()
    assert "canceled" in body and "in_progress" in body
    unknown = alice_client.post(url(incident, "transition"), {"state": "flying"}, follow=True)
    assert any("flying" in text for text in messages_of(unknown))
    incident.refresh_from_db()
    assert incident.state == "canceled"


# Timeline --------------------------------------------------------------------------------------
def test_comments_and_work_notes_reach_the_timeline(alice_client, alice):
    incident = open_incident(alice)
    note = alice_client.post(url(incident, "comment"), {"kind": "work_note", "body": "Checked the MX records"})
    assert note.status_code == 302 and note["Location"].endswith("#timeline")
    alice_client.post(url(incident, "comment"), {"kind": "comment", "body": "We are on it."})
    entries = {e.kind: e for e in TimelineEntry.objects.filter(incident=incident)}
    assert entries["work_note"].public is False and entries["work_note"].body == "Checked the MX records"
    assert entries["comment"].public is True
    body = alice_client.get(url(incident)).content.decode()
    assert "Checked the MX records" in body and "internal" in body and "We are on it." in body


def test_an_empty_comment_is_refused_on_the_form(alice_client, alice):
    incident = open_incident(alice)
    response = alice_client.post(url(incident, "comment"), {"kind": "comment", "body": "   "})
    assert response.status_code == 200
    assert "Write something or attach a file." in response.context["comment_form"].errors["body"]
    assert timeline_kinds(incident) == ["state"]


def test_a_file_is_attached_and_a_refused_type_is_said_on_the_form(alice_client, alice, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    incident = open_incident(alice)
    log = SimpleUploadedFile("smtp.log", b"421 too many connections", content_type="text/plain")
    response = alice_client.post(url(incident, "comment"), {"kind": "work_note", "body": "", "file": log})
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.name == "smtp.log" and attachment.size == 24
    page = alice_client.get(url(incident)).content.decode()
    assert f'href="/incidents/attachments/{attachment.pk}/">smtp.log</a>' in page
    exe = SimpleUploadedFile("tool.exe", b"MZ\x90\x00", content_type="application/x-msdownload")
    refused = alice_client.post(url(incident, "comment"), {"kind": "work_note", "body": "", "file": exe})
    assert refused.status_code == 200
    assert "not accepted" in " ".join(refused.context["comment_form"].errors["file"])
    assert Attachment.objects.count() == 1
    # Words and a refused file together: neither is kept.
    exe.seek(0)
    both = alice_client.post(url(incident, "comment"), {"kind": "comment", "body": "See the tool", "file": exe})
    assert both.status_code == 200 and both.context["comment_form"]["body"].value() == "See the tool"
    assert not TimelineEntry.objects.filter(incident=incident, kind="comment").exists()


def test_the_timeline_pages_newest_first(alice_client, alice):
    incident = open_incident(alice)
    for i in range(55):
        services.add_comment(incident, user=alice, body=f"Note {i}", public=False)
    first = alice_client.get(url(incident)).context["timeline_page"]
    assert first.paginator.count == 56 and first[0].body == "Note 54"
    older = alice_client.get(url(incident), {"page": 2}).context["timeline_page"]
    assert [e.kind for e in older][-1] == "state"


# Major incidents -------------------------------------------------------------------------------
def test_a_major_incident_gathers_children_updates_them_and_resolves_them(alice_client, alice):
    parent = open_incident(alice, title="Data centre power loss")
    child = open_incident(alice, title="Mail is down")
    other = open_incident(alice, title="VPN is down")

    assert alice_client.post(url(parent, "promote")).status_code == 302
    parent.refresh_from_db()
    assert parent.is_major

    # Linked from the parent's page by number, and from the child's page to its parent.
    assert alice_client.post(url(parent, "children/add"), {"child": child.number.lower()}).status_code == 302
    assert alice_client.post(url(other, "parent"), {"parent": parent.number}).status_code == 302
    assert set(parent.children.values_list("pk", flat=True)) == {child.pk, other.pk}

    response = alice_client.post(url(parent, "major-update"), {"body": "Generators are starting."})
    assert response.status_code == 302
    copy = TimelineEntry.objects.get(incident=child, kind="major")
    assert copy.body == "Generators are starting." and copy.origin.incident_id == parent.pk
    assert "from major incident" in alice_client.get(url(child)).content.decode()

    services.transition(parent, "resolved", user=alice, resolution_code="solved", note="Power back")
    page = alice_client.get(url(parent))
    assert page.context["resolve_children_form"]["note"].value() == "Power back"
    assert "Resolve them too?" in page.content.decode()
    resolved = alice_client.post(url(parent, "resolve-children"), {"resolution_code": "solved", "note": "Power back"})
    assert resolved.status_code == 302
    assert set(Incident.objects.filter(parent=parent).values_list("state", flat=True)) == {"resolved"}


def test_linking_refusals_are_shown_on_the_form(alice_client, alice):
    parent = open_incident(alice, title="Outage")
    child = open_incident(alice, title="Symptom")
    unknown = alice_client.post(url(child, "parent"), {"parent": "INC9999999"})
    assert "No incident is numbered INC9999999." in unknown.context["link_parent_form"].errors["parent"]
    not_major = alice_client.post(url(child, "parent"), {"parent": parent.number})
    assert not_major.status_code == 200
    assert "not a major incident" in " ".join(not_major.context["link_parent_form"].errors["parent"])
    child.refresh_from_db()
    assert child.parent is None


def test_a_child_is_unlinked_from_its_parent(alice_client, alice):
    parent = open_incident(alice, title="Outage")
    services.promote_major(parent, user=alice)
    child = open_incident(alice, title="Symptom")
    services.link_child(parent, child, user=alice)
    assert alice_client.post(url(parent, f"children/{child.pk}/unlink")).status_code == 302
    child.refresh_from_db()
    assert child.parent is None
    assert alice_client.post(url(parent, f"children/{child.pk}/unlink")).status_code == 404


def test_promoting_twice_answers_409_and_says_why(alice_client, alice):
    incident = open_incident(alice)
    services.promote_major(incident, user=alice)
    response = alice_client.post(url(incident, "promote"), follow=True)
    assert any("already a major incident" in text for text in messages_of(response))


# Known errors, SLA and History tabs ------------------------------------------------------------
def test_known_errors_matching_the_cis_are_suggested(alice_client, alice):
    mail = CIFactory(name="mail-01")
    matching = KnownErrorFactory(title="Queue stuck after upgrade", workaround="Flush the queue.")
    matching.affected_cis.add(mail)
    KnownErrorFactory(title="Unrelated printer error")
    incident = open_incident(alice, affected_cis=[mail])
    response = alice_client.get(url(incident))
    assert [ke.pk for ke in response.context["suggested_known_errors"]][:1] == [matching.pk]
    assert "Flush the queue." in response.content.decode()


def test_the_sla_tab_explains_each_clock(alice_client, alice, network_team, policy):
    incident = open_incident(alice, assignment_team=network_team)
    services.transition(incident, "on_hold", user=alice, hold_reason="awaiting_vendor")
    response = alice_client.get(url(incident, "sla"))
    assert response.status_code == 200
    assert [clock.metric for clock, _ in response.context["explained"]] == ["response", "resolution"]
    body = response.content.decode()
    assert 'id="sla-timeline-resolution"' in body and "Round the clock" in body and "24 × 7" in body


def test_the_sla_tab_says_when_no_policy_applies(alice_client, alice):
    incident = open_incident(alice)
    assert "No SLA policy applies" in alice_client.get(url(incident, "sla")).content.decode()


def test_the_history_tab_shows_the_audit_trail(alice_client, alice, network_team):
    incident = open_incident(alice)
    services.assign(incident, user=alice, team=network_team)
    response = alice_client.get(url(incident, "history"))
    body = response.content.decode()
    assert response.status_code == 200 and response.context["active_tab"] == "history"
    assert "change-entry" in body and "Network" in body
    assert f"/incidents/{incident.pk}/delete/" not in body
