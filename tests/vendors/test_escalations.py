"""``vendors.services.escalations``: an open incident escalated under a contract that covers its
CIs goes on hold awaiting the vendor and starts vendor clocks in the contract's support hours;
the vendor's response and resolution stop them; bad input is refused and writes nothing."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from incidents.models import Incident, TimelineEntry
from incidents.services.incidents import transition
from itom.api.exceptions import Conflict
from slas.models import SLAClock
from slas.services import scan
from tests.factories import CIFactory
from tests.slas.conftest import paris
from tests.vendors.escalating import TODAY, contract, covered_incident, incident_on, set_clock, vendor
from vendors.models import VendorEscalation
from vendors.services.escalations import eligible_contracts, escalate, record_resolution, record_response, withdraw

pytestmark = pytest.mark.django_db


@pytest.fixture
def now(monkeypatch):
    return set_clock(monkeypatch)


def clocks_of(escalation):
    return {clock.metric: clock for clock in SLAClock.objects.filter(vendor_escalation=escalation)}


def vendor_lines(incident):
    return list(
        TimelineEntry.objects.filter(incident=incident, data__has_key="vendor_escalation")
        .order_by("time", "id")
        .values_list("body", flat=True)
    )


def nothing_written(incident):
    incident.refresh_from_db()
    return incident.state == "new" and not VendorEscalation.objects.exists() and not vendor_lines(incident)


# --- which contracts -----------------------------------------------------------------------------


def test_the_eligible_contracts_are_support_contracts_in_force_covering_the_incidents_cis_or_services(now):
    ci, service, elsewhere = CIFactory(), CIFactory(), CIFactory()
    incident = incident_on(ci)
    incident.affected_services.add(service)
    direct = contract([ci], supplier=vendor("Acme"))
    via_service = contract([service], supplier=vendor("Globex"), type="warranty")
    contract([ci], supplier=vendor("Initech"), type="licence")
    contract([ci], end=TODAY - dt.timedelta(days=1))
    contract([ci], start=TODAY + dt.timedelta(days=1))
    contract([elsewhere])

    assert list(eligible_contracts(incident)) == [direct, via_service]
    assert list(eligible_contracts(incident, today=TODAY + dt.timedelta(days=400))) == []


# --- escalating ----------------------------------------------------------------------------------


def test_escalating_puts_the_incident_on_hold_awaiting_the_vendor_with_clocks_in_support_hours(now, alice):
    incident, covering = covered_incident()

    escalation = escalate(incident, user=alice, contract=covering, vendor_ticket="ACME-4711", note="Disk array down")

    assert (escalation.state, escalation.vendor, escalation.priority) == ("open", covering.vendor, 2)
    assert escalation.escalated_by == alice and escalation.escalated_at == now()
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == ("on_hold", "awaiting_vendor")
    clocks = clocks_of(escalation)
    # P2: 4 h response, 16 h resolution. Escalated Friday 16:00 on Mon–Fri 09–17: Friday counts
    # one hour, the weekend none.
    assert clocks["response"].due_at == paris(2026, 7, 13, 12, 0)
    assert clocks["resolution"].due_at == paris(2026, 7, 14, 16, 0)
    assert clocks["response"].calendar == covering.support_calendar and clocks["response"].policy is None
    [line] = vendor_lines(incident)
    assert "Acme Support" in line and covering.number in line and "ACME-4711" in line
    assert "response due 2026-07-13 12:00" in line and "resolution due 2026-07-14 16:00" in line
    assert "Disk array down" in line


def test_an_incident_on_hold_for_another_reason_stays_as_it_is(now, alice):
    incident, covering = covered_incident()
    transition(incident, "on_hold", user=alice, hold_reason="awaiting_caller")

    escalate(incident, user=alice, contract=covering)

    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == ("on_hold", "awaiting_caller")


def test_without_a_term_for_the_priority_no_clock_starts_and_the_timeline_says_so(now, alice):
    incident, covering = covered_incident(terms={1: (60, 240)})

    escalation = escalate(incident, user=alice, contract=covering)

    assert clocks_of(escalation) == {}
    [line] = vendor_lines(incident)
    assert f"{covering.number} has no term for P2: no vendor clock." in line


def test_escalating_a_closed_incident_is_a_conflict(now, alice):
    incident, covering = covered_incident()
    transition(incident, "canceled", user=alice)

    with pytest.raises(Conflict, match="only an open incident"):
        escalate(incident, user=alice, contract=covering)
    assert not VendorEscalation.objects.exists()


@pytest.mark.parametrize(
    "contract_fields, message",
    [
        (
            {"start": dt.date(2025, 1, 1), "end": dt.date(2026, 6, 30)},
            "{number} expired on 2026-06-30.",
        ),
        (
            {"start": dt.date(2026, 8, 1), "end": dt.date(2027, 7, 31)},
            "{number} starts on 2026-08-01: it isn't in force yet.",
        ),
        ({"calendar": False}, "{number} has no support hours: set its support calendar first."),
        ({"type": "licence"}, "{number} is a licence contract"),
    ],
    ids=["expired", "not-started", "no-support-hours", "not-a-support-type"],
)
def test_a_contract_that_cant_take_the_escalation_is_refused_and_nothing_is_written(
    now, alice, contract_fields, message
):
    incident, covering = covered_incident(**contract_fields)

    with pytest.raises(ValidationError) as error:
        escalate(incident, user=alice, contract=covering)

    assert error.value.message_dict["contract"][0].startswith(message.format(number=covering.number))
    assert nothing_written(incident)


def test_a_contract_covering_none_of_the_incidents_cis_is_refused(now, alice):
    incident = incident_on(CIFactory())
    elsewhere = contract([CIFactory()])

    with pytest.raises(ValidationError) as error:
        escalate(incident, user=alice, contract=elsewhere)

    assert error.value.message_dict == {"contract": [f"{elsewhere.number} covers none of {incident.number}'s CIs."]}
    assert nothing_written(incident)


def test_an_unknown_contract_a_missing_one_or_a_ticket_too_long_names_the_field(now, alice):
    incident, _ = covered_incident()

    with pytest.raises(ValidationError) as unknown:
        escalate(incident, user=alice, contract=999_999)
    with pytest.raises(ValidationError) as missing:
        escalate(incident, user=alice, contract=None, vendor_ticket="x" * 101)

    assert "does not exist" in unknown.value.message_dict["contract"][0]
    assert set(missing.value.message_dict) == {"contract", "vendor_ticket"}
    assert nothing_written(incident)


def test_escalating_twice_under_the_same_contract_is_a_conflict_but_another_contract_may_take_it(now, alice):
    incident, covering = covered_incident()
    escalate(incident, user=alice, contract=covering)
    other = contract(list(incident.affected_cis.all()), supplier=vendor("Globex"))

    with pytest.raises(Conflict, match="already escalated"):
        escalate(incident, user=alice, contract=covering)
    escalate(incident, user=alice, contract=other)

    assert VendorEscalation.objects.filter(incident=incident).count() == 2


def test_a_viewer_may_not_escalate(now, victor):
    incident, covering = covered_incident()

    with pytest.raises(PermissionDenied):
        escalate(incident, user=victor, contract=covering)
    assert nothing_written(incident)


# --- the vendor's response and resolution --------------------------------------------------------


def test_a_response_within_the_target_meets_the_response_clock(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering, vendor_ticket="ACME-1")
    now.set(paris(2026, 7, 13, 11, 0))

    record_response(escalation, user=alice, note="They are on it")

    escalation.refresh_from_db()
    assert (escalation.state, escalation.responded_at) == ("responded", paris(2026, 7, 13, 11, 0))
    clocks = clocks_of(escalation)
    assert clocks["response"].state == "met" and clocks["resolution"].state == "running"
    assert clocks["response"].elapsed_seconds == pytest.approx(3 * 3600)
    assert "response target met" in vendor_lines(incident)[-1] and "They are on it" in vendor_lines(incident)[-1]


def test_a_response_after_the_target_breaches_the_response_clock(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)
    now.set(paris(2026, 7, 14, 9, 0))

    record_response(escalation, user=alice, at=paris(2026, 7, 13, 12, 30))

    assert clocks_of(escalation)["response"].state == "breached"
    assert "response target missed" in vendor_lines(incident)[-1]


def test_a_response_time_in_the_future_or_before_the_escalation_is_refused(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)

    for at in (paris(2026, 7, 10, 17, 0), paris(2026, 7, 10, 15, 0), dt.datetime(2026, 7, 10, 16, 30)):
        with pytest.raises(ValidationError) as error:
            record_response(escalation, user=alice, at=at)
        assert set(error.value.message_dict) == {"at"}

    escalation.refresh_from_db()
    assert escalation.state == "open" and clocks_of(escalation)["response"].state == "running"


def test_responding_twice_is_a_conflict(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)
    record_response(escalation, user=alice)

    with pytest.raises(Conflict):
        record_response(escalation, user=alice)


def test_the_resolution_stops_both_clocks_and_gives_the_incident_back_to_its_team(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering, vendor_ticket="ACME-9")
    now.set(paris(2026, 7, 13, 15, 0))

    record_resolution(escalation, user=alice, note="Controller replaced")

    escalation.refresh_from_db()
    assert escalation.state == "resolved" and escalation.resolved_at == escalation.responded_at == now()
    clocks = clocks_of(escalation)
    assert clocks["response"].state == "breached"  # 7 business hours for a 4 h response
    assert clocks["resolution"].state == "met"
    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == ("in_progress", "")
    state_line = TimelineEntry.objects.filter(incident=incident, kind="state").latest("time", "id")
    assert "ACME-9" in state_line.body
    assert "response target missed, resolution target met" in vendor_lines(incident)[-1]


def test_the_incident_stays_on_hold_while_another_escalation_is_live(now, alice):
    incident, covering = covered_incident()
    first = escalate(incident, user=alice, contract=covering)
    escalate(incident, user=alice, contract=contract(list(incident.affected_cis.all()), supplier=vendor("Globex")))

    record_resolution(first, user=alice)

    incident.refresh_from_db()
    assert (incident.state, incident.hold_reason) == ("on_hold", "awaiting_vendor")


def test_resolving_a_resolved_escalation_is_a_conflict(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)
    record_resolution(escalation, user=alice)

    with pytest.raises(Conflict):
        record_resolution(escalation, user=alice)
    with pytest.raises(Conflict):
        withdraw(escalation, user=alice, note="too late")


def test_withdrawing_cancels_the_clocks_and_needs_a_reason(now, alice):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)

    with pytest.raises(ValidationError) as error:
        withdraw(escalation, user=alice, note="  ")
    assert set(error.value.message_dict) == {"note"}
    now.set(paris(2026, 7, 13, 10, 0))
    withdraw(escalation, user=alice, note="Fixed it ourselves")

    escalation.refresh_from_db()
    assert escalation.state == "canceled"
    assert {clock.state for clock in clocks_of(escalation).values()} == {"canceled"}
    assert Incident.objects.get(pk=incident.pk).state == "in_progress"
    assert "Fixed it ourselves" in vendor_lines(incident)[-1]
    # withdrawn, the incident may be escalated under the contract again
    now.set(paris(2026, 7, 13, 11, 0))
    assert escalate(incident, user=alice, contract=covering).state == "open"


def test_a_viewer_may_not_record_what_the_vendor_did(now, alice, victor):
    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)

    for act in (record_response, record_resolution):
        with pytest.raises(PermissionDenied):
            act(escalation, user=victor)
    with pytest.raises(PermissionDenied):
        withdraw(escalation, user=victor, note="no")
    escalation.refresh_from_db()
    assert escalation.state == "open"


# --- vendor clock warnings and breaches ----------------------------------------------------------


def test_a_vendor_clock_warning_and_breach_write_a_line_each_on_the_incident_once(
    now, alice, django_capture_on_commit_callbacks
):
    incident, covering = covered_incident()
    escalate(incident, user=alice, contract=covering, vendor_ticket="ACME-7")

    for at in (paris(2026, 7, 13, 11, 5), paris(2026, 7, 13, 12, 5), paris(2026, 7, 13, 12, 6)):
        with django_capture_on_commit_callbacks(execute=True):
            scan(now=at)

    lines = list(
        TimelineEntry.objects.filter(incident=incident, kind="system", data__has_key="vendor_clock")
        .order_by("time", "id")
        .values_list("body", flat=True)
    )
    assert len(lines) == 2
    assert "ACME-7" in lines[0] and "75% of the vendor's response time used" in lines[0]
    assert "the vendor's response target passed (2026-07-13 12:00" in lines[1]


def test_a_vendor_clock_event_recorded_twice_writes_one_line(now, alice):
    from vendors.wiring import on_vendor_clock_breached

    incident, covering = covered_incident()
    escalation = escalate(incident, user=alice, contract=covering)
    clock = clocks_of(escalation)["response"]

    on_vendor_clock_breached(sender=SLAClock, clocks=[clock])
    on_vendor_clock_breached(sender=SLAClock, clocks=[clock])

    assert TimelineEntry.objects.filter(incident=incident, data__vendor_clock=clock.pk).count() == 1


def test_a_vendor_breach_notifies_the_incident_assignee_and_the_contract_owner_once(now, alice, maria, network_team):
    from incidents.services.incidents import assign
    from itom.models import Notification
    from vendors.wiring import on_vendor_clock_breached

    incident, covering = covered_incident(owner=maria)
    assign(incident, user=alice, team=network_team, assignee=alice)
    escalation = escalate(incident, user=alice, contract=covering, vendor_ticket="ACME-9")
    clock = clocks_of(escalation)["response"]

    on_vendor_clock_breached(sender=SLAClock, clocks=[clock])
    on_vendor_clock_breached(sender=SLAClock, clocks=[clock])  # delivered twice: told once

    sent = Notification.objects.filter(event="vendor.sla_breached")
    assert sorted(sent.values_list("recipient__username", flat=True)) == ["alice", "maria"]
    assert all(f"missed its response target on {incident.number}" in n.title for n in sent)
