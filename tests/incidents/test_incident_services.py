"""Opening, editing and assigning incidents through ``incidents.services.incidents``: what is
stored, what the timeline and the audit trail say, and what bad input is refused with."""

import pytest
from django.core.exceptions import ValidationError

from incidents.choices import IncidentState, TimelineKind
from incidents.models import Category, Incident, TimelineEntry
from incidents.services import incidents as services
from itom.api.exceptions import Conflict
from itom.models import ObjectChange
from itom.roles import AGENT
from tests.factories import CIFactory, TeamFactory, UserFactory, ci_class, link, open_incident

pytestmark = pytest.mark.django_db


def kinds(incident):
    return list(incident.timeline.values_list("kind", flat=True))


# --- opening ----------------------------------------------------------------------------------


def test_opening_an_incident_stores_it_with_its_priority_opener_and_a_first_timeline_line(alice, network_team):
    incident = services.create_incident(
        user=alice,
        title="  VPN down for the Lyon office ",
        description="Nobody in Lyon can connect.",
        impact=1,
        urgency=2,
        caller_contact="front desk, +33 4 00 00 00 00",
        assignment_team=network_team,
    )
    incident.refresh_from_db()
    assert incident.number.startswith("INC") and len(incident.number) == 10
    assert incident.title == "VPN down for the Lyon office"
    assert incident.priority == 2  # impact 1 × urgency 2
    assert incident.state == IncidentState.NEW
    assert incident.opened_by == alice
    assert incident.source == "manual"
    assert incident.first_responded_at is None  # a team is not a person: nobody has responded yet
    assert kinds(incident) == [TimelineKind.STATE, TimelineKind.ASSIGNMENT]
    opened = incident.timeline.first()
    assert opened.author == alice and opened.public and "Opened" in opened.body


def test_the_affected_business_services_come_from_the_cmdb(alice):
    server = CIFactory(name="web-01", ci_class=ci_class("linux-server"))
    app = CIFactory(name="shop-app")
    shop = CIFactory(name="Online shop", ci_class=ci_class("business-service"))
    unrelated = CIFactory(name="Payroll", ci_class=ci_class("business-service"))
    link(app, server, "runs-on")
    link(shop, app, "depends-on")
    incident = services.create_incident(user=alice, title="web-01 unreachable", affected_cis=[server])
    assert list(incident.affected_cis.all()) == [server]
    assert set(incident.affected_services.all()) == {shop}
    assert unrelated not in incident.affected_services.all()

    # Changing the affected CIs recomputes the services.
    incident = services.update_incident(incident, user=alice, affected_cis=[unrelated])
    assert set(incident.affected_services.all()) == {unrelated}  # a service affected itself counts
    incident = services.update_incident(incident, user=alice, affected_cis=[])
    assert not incident.affected_services.exists()


def test_an_assignee_given_without_a_team_brings_their_only_team(alice, network_team):
    incident = services.create_incident(user=alice, title="Switch port flapping", assignee=alice)
    assert incident.assignment_team == network_team
    assert incident.assignee == alice
    assert incident.first_responded_at is not None  # opened by a person, straight to a person


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"impact": 7}, "impact"),
        ({"urgency": 0}, "urgency"),
        ({"impact": "high"}, "impact"),
        ({"title": "   "}, "title"),
        ({"source": "carrier-pigeon"}, "source"),
        ({"title": "x" * 201}, "title"),
    ],
)
def test_bad_fields_are_refused_naming_the_field_and_nothing_is_written(alice, fields, field):
    before = (Incident.objects.count(), ObjectChange.objects.count(), TimelineEntry.objects.count())
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, **{"title": "Printer jam", **fields})
    assert field in caught.value.message_dict
    assert (Incident.objects.count(), ObjectChange.objects.count(), TimelineEntry.objects.count()) == before


def test_every_bad_field_is_reported_at_once(alice):
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="", impact=9, urgency=9)
    assert {"title", "impact", "urgency"} <= set(caught.value.message_dict)


def test_an_assignee_outside_the_team_is_refused(alice, bob, network_team, database_team):
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="Slow queries", assignment_team=network_team, assignee=bob)
    assert "not a member of Network" in caught.value.message_dict["assignee"][0]
    assert not Incident.objects.exists()


def test_an_assignee_in_several_teams_or_none_needs_the_team_named(alice, network_team):
    carol = UserFactory(username="carol", roles=[AGENT])
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="Disk full", assignee=carol)
    assert "is in no team" in caught.value.message_dict["assignment_team"][0]
    TeamFactory(name="Storage", members=[carol])
    TeamFactory(name="Backup", members=[carol])
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="Disk full", assignee=carol)
    assert "several teams" in caught.value.message_dict["assignment_team"][0]


def test_a_viewer_cannot_be_made_assignee(alice, victor):
    team = TeamFactory(name="Desk", members=[victor])
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="Mail bounced", assignment_team=team, assignee=victor)
    assert "cannot work incidents" in caught.value.message_dict["assignee"][0]


def test_a_retired_category_is_refused(alice):
    retired = Category.objects.create(name="Fax", active=False)
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="Fax broken", category=retired)
    assert "retired" in caught.value.message_dict["category"][0]


def test_watchers_are_stored_and_unknown_ones_refused(alice, bob):
    incident = services.create_incident(user=alice, title="Badge reader", watchers=[bob])
    assert list(incident.watchers.all()) == [bob]
    with pytest.raises(ValidationError) as caught:
        services.create_incident(user=alice, title="Badge reader", watchers=[987654])
    assert "watchers" in caught.value.message_dict


def test_the_audit_trail_names_the_person_who_opened_it(alice):
    from itom.context import acting_as

    with acting_as(alice):
        incident = services.create_incident(user=alice, title="Wi-Fi down")
    change = ObjectChange.objects.get(object_id=str(incident.pk), action="create", content_type__model="incident")
    assert change.user == alice
    assert change.postchange_data["title"] == "Wi-Fi down"


# --- editing ----------------------------------------------------------------------------------


def test_changing_impact_or_urgency_recomputes_the_priority_and_says_so_on_the_timeline(alice):
    incident = open_incident(alice, impact=3, urgency=3)
    assert incident.priority == 5
    incident = services.update_incident(incident, user=alice, impact=1, urgency=1)
    assert incident.priority == 1
    line = incident.timeline.get(kind=TimelineKind.PRIORITY)
    assert line.data == {"from": 5, "to": 1}
    assert "Priority 5 → 1" in line.body


def test_an_edit_that_changes_nothing_writes_nothing(alice):
    incident = open_incident(alice, title="Same")
    before = (ObjectChange.objects.count(), TimelineEntry.objects.count())
    services.update_incident(incident, user=alice, title="Same", impact=incident.impact)
    assert (ObjectChange.objects.count(), TimelineEntry.objects.count()) == before


def test_the_state_and_system_fields_cannot_be_edited(alice):
    incident = open_incident(alice)
    with pytest.raises(ValidationError) as caught:
        services.update_incident(incident, user=alice, state="closed", number="INC9")
    assert "transition" in caught.value.message_dict["state"][0]
    assert "number" in caught.value.message_dict
    incident.refresh_from_db()
    assert incident.state == IncidentState.NEW


def test_a_bad_edit_writes_nothing(alice):
    incident = open_incident(alice, title="Original", impact=2, urgency=2)
    with pytest.raises(ValidationError) as caught:
        services.update_incident(incident, user=alice, title="Changed", impact=7)
    assert "impact" in caught.value.message_dict
    incident.refresh_from_db()
    assert (incident.title, incident.impact, incident.priority) == ("Original", 2, 3)


def test_a_closed_incident_only_takes_new_watchers(alice, bob):
    incident = open_incident(alice)
    services.transition(incident, "canceled", user=alice, note="Opened by mistake")
    with pytest.raises(Conflict):
        services.update_incident(incident, user=alice, title="Renamed")
    incident = services.update_incident(incident, user=alice, watchers=[bob])
    assert list(incident.watchers.all()) == [bob]


# --- assigning --------------------------------------------------------------------------------


def test_assigning_to_a_person_records_it_and_counts_as_the_first_response(alice, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    incident = services.assign(incident, user=alice, assignee=alice)
    assert incident.assignee == alice
    assert incident.first_responded_at is not None
    line = incident.timeline.filter(kind=TimelineKind.ASSIGNMENT).last()
    assert line.data == {"from_team": "Network", "to_team": "Network", "from_assignee": None, "to_assignee": "alice"}
    assert line.body == "Assigned to alice (Network)."


def test_moving_to_another_team_drops_an_assignee_who_is_not_in_it(alice, network_team, database_team):
    incident = open_incident(alice, assignment_team=network_team, assignee=alice)
    incident = services.assign(incident, user=alice, team=database_team)
    assert (incident.assignment_team, incident.assignee) == (database_team, None)


def test_reassigning_to_the_same_people_writes_nothing(alice, network_team):
    incident = open_incident(alice, assignment_team=network_team, assignee=alice)
    before = TimelineEntry.objects.count()
    services.assign(incident, user=alice, team=network_team, assignee=alice)
    assert TimelineEntry.objects.count() == before


def test_assigning_outside_the_team_is_refused_and_nothing_changes(alice, bob, network_team, database_team):
    incident = open_incident(alice, assignment_team=network_team)
    with pytest.raises(ValidationError) as caught:
        services.assign(incident, user=alice, assignee=bob)
    assert "bob is not a member of Network" in caught.value.message_dict["assignee"][0]
    incident.refresh_from_db()
    assert incident.assignee is None


def test_a_closed_incident_cannot_be_reassigned(alice, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    services.transition(incident, "resolved", user=alice, resolution_code="solved", note="Fixed.")
    services.transition(incident, "closed", user=alice)
    with pytest.raises(Conflict):
        services.assign(incident, user=alice, assignee=alice)


def test_assignment_through_update_incident_goes_through_the_same_checks(alice, bob, network_team):
    incident = open_incident(alice, assignment_team=network_team)
    with pytest.raises(ValidationError):
        services.update_incident(incident, user=alice, assignee=bob)
    incident = services.update_incident(incident, user=alice, assignee=alice, title="Renamed")
    assert (incident.assignee, incident.title) == (alice, "Renamed")


# --- comments ---------------------------------------------------------------------------------


def test_comments_and_work_notes_go_on_the_timeline(alice):
    incident = open_incident(alice)
    comment = services.add_comment(incident, user=alice, body=" We are looking into it. ")
    note = services.add_comment(incident, user=alice, body="Suspect the DHCP relay.", public=False)
    assert (comment.kind, comment.public, comment.body) == (TimelineKind.COMMENT, True, "We are looking into it.")
    assert (note.kind, note.public) == (TimelineKind.WORK_NOTE, False)
    assert list(incident.timeline.values_list("kind", flat=True))[-2:] == ["comment", "work_note"]


def test_an_agents_first_public_comment_is_the_first_response_but_a_work_note_is_not(alice, bob):
    incident = open_incident(alice, caller=bob)
    services.add_comment(incident, user=alice, body="Internal only", public=False)
    incident.refresh_from_db()
    assert incident.first_responded_at is None
    services.add_comment(incident, user=bob, body="Any news?")  # the caller asking is no response
    incident.refresh_from_db()
    assert incident.first_responded_at is None
    services.add_comment(incident, user=alice, body="On it.")
    incident.refresh_from_db()
    assert incident.first_responded_at is not None


@pytest.mark.parametrize("body", ["", "   ", "x" * 20_001])
def test_an_empty_or_huge_comment_is_refused(alice, body):
    incident = open_incident(alice)
    before = TimelineEntry.objects.count()
    with pytest.raises(ValidationError) as caught:
        services.add_comment(incident, user=alice, body=body)
    assert "body" in caught.value.message_dict
    assert TimelineEntry.objects.count() == before


def test_a_system_line_names_the_acting_task(alice):
    from incidents.timeline import record
    from itom.context import acting_as

    incident = open_incident(alice)
    with acting_as(label="task:incidents.tasks.auto_close_resolved"):
        entry = record(incident, TimelineKind.SYSTEM, body="Hello")
    assert entry.author is None
    assert entry.author_name == "task:incidents.tasks.auto_close_resolved"


def test_record_refuses_an_unknown_kind(alice):
    from incidents.timeline import record

    with pytest.raises(ValueError):
        record(open_incident(alice), "gossip")


def test_update_incident_moves_the_incident_to_another_team(alice, network_team, database_team):
    incident = open_incident(alice, assignment_team=network_team, assignee=alice)
    incident = services.update_incident(incident, user=alice, assignment_team=database_team)
    assert (incident.assignment_team, incident.assignee) == (database_team, None)
    assert incident.timeline.filter(kind=TimelineKind.ASSIGNMENT).last().data["to_team"] == "Database"


# --- suggested known errors -------------------------------------------------------------------


def test_known_errors_sharing_cis_come_first_then_those_sharing_words(alice):
    from tests.factories import KnownErrorFactory

    web, db = CIFactory(name="web-01"), CIFactory(name="db-01")
    both = KnownErrorFactory(title="Pool exhaustion", symptom="Timeouts")
    both.affected_cis.set([web, db])
    one = KnownErrorFactory(title="Disk latency", symptom="Slow writes")
    one.affected_cis.set([db])
    worded = KnownErrorFactory(title="Certificate expired", symptom="Browsers warn about the certificate")
    retired = KnownErrorFactory(title="Certificate chain broken", symptom="certificate", active=False)
    KnownErrorFactory(title="Printer jam", symptom="Paper stuck")

    incident = open_incident(alice, title="Certificate warning on the shop", affected_cis=[web, db])
    assert services.suggested_known_errors(incident) == [both, one, worded]
    assert services.suggested_known_errors(incident, limit=1) == [both]
    assert retired not in services.suggested_known_errors(incident, limit=10)
    assert services.suggested_known_errors(open_incident(alice, title="The thing is not working")) == []
