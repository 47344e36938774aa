"""Problems through ``incidents.services.problems``: creation (alone and from incidents), the
transition table (every allowed and refused move) and its rules, workarounds reaching the open
linked incidents, linking and unlinking, edits, deletion, notifications, and two agents moving the
same problem at once."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from incidents.choices import PROBLEM_TRANSITIONS, ProblemState, ProblemTimelineKind, TimelineKind
from incidents.models import Incident, KnownError, Problem, ProblemTimelineEntry, TimelineEntry
from incidents.services import problems as services
from itom.api.exceptions import Conflict, TransitionNotAllowed
from itom.models import Notification
from tests.factories import CIFactory, IncidentFactory, ProblemFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

P = ProblemState
ALL_STATES = list(P.values)


def problem_in(state, **fields):
    fields.setdefault("root_cause", "A full disk.")
    return ProblemFactory(state=state, **fields)


def work_notes(incident):
    return list(TimelineEntry.objects.filter(incident=incident, kind=TimelineKind.WORK_NOTE).order_by("pk"))


# --- Creation ---------------------------------------------------------------------------------


def test_a_problem_is_created_numbered_with_cis_and_incidents_linked(alice, network_team):
    web, db = CIFactory(name="web-01"), CIFactory(name="db-01")
    first, second = IncidentFactory(), IncidentFactory()
    problem = services.create_problem(
        user=alice,
        title="  Web nodes run out of memory ",
        priority=2,
        assignment_team=network_team,
        assignee=alice,
        affected_cis=[web, db],
        incidents=[first.pk, second.pk],
    )
    assert problem.number.startswith("PRB")
    assert problem.title == "Web nodes run out of memory"
    assert problem.state == P.NEW and problem.opened_by == alice
    assert set(problem.affected_cis.all()) == {web, db}
    assert set(problem.incidents.all()) == {first, second}
    link = TimelineEntry.objects.get(incident=first, kind=TimelineKind.LINK)
    assert problem.number in link.body and link.author == alice
    assert link.data == {"problem": problem.pk, "problem_number": problem.number, "linked": True}
    entry = ProblemTimelineEntry.objects.get(problem=problem)
    assert entry.kind == ProblemTimelineKind.LINK
    assert entry.data["incidents"] == [first.number, second.number]


def test_problem_created_notifies_the_team_but_not_the_actor(alice, bob, network_team):
    carol = UserFactory(username="carol")
    network_team.members.add(carol)
    problem = services.create_problem(user=alice, title="Flapping uplink", assignment_team=network_team)
    rows = Notification.objects.filter(event="problem.created")
    assert {n.recipient.username for n in rows} == {"carol"}
    note = rows.get()
    assert problem.number in note.title and note.url == problem.get_absolute_url()


def test_an_assignee_outside_the_team_is_refused_and_nothing_is_written(alice, bob, network_team):
    with pytest.raises(ValidationError) as refused:
        services.create_problem(user=alice, title="X", assignment_team=network_team, assignee=bob)
    assert "assignee" in refused.value.message_dict
    assert "bob is not a member of Network" in refused.value.message_dict["assignee"][0]
    with pytest.raises(ValidationError) as no_team:
        services.create_problem(user=alice, title="X", assignee=bob)
    assert "assignee" in no_team.value.message_dict
    assert not Problem.objects.exists()


def test_the_team_lead_may_be_assigned_even_when_not_a_member(alice):
    lead = UserFactory(username="lena")
    team = TeamFactory(name="Storage", lead=lead)
    problem = services.create_problem(user=alice, title="Slow SAN", assignment_team=team, assignee=lead)
    assert problem.assignee == lead


@pytest.mark.parametrize(("field", "value"), [("title", "   "), ("priority", 9)])
def test_bad_fields_are_refused_naming_them(alice, field, value):
    data = {"title": "Fine", "priority": 3} | {field: value}
    with pytest.raises(ValidationError) as refused:
        services.create_problem(user=alice, **data)
    assert field in refused.value.message_dict
    assert not Problem.objects.exists()


def test_unknown_incidents_refuse_the_whole_creation(alice):
    incident = IncidentFactory()
    with pytest.raises(ValidationError) as refused:
        services.create_problem(user=alice, title="X", incidents=[incident.pk, 999999])
    assert refused.value.message_dict["incidents"] == ["No incident with id 999999."]
    assert not Problem.objects.exists()
    assert not TimelineEntry.objects.exists()
    incident.refresh_from_db()
    assert incident.problem is None


# --- From incidents ----------------------------------------------------------------------------


def test_a_problem_from_incidents_takes_the_most_urgent_ones_title_team_and_all_their_cis(alice, network_team):
    web, db, lb = CIFactory(name="web-01"), CIFactory(name="db-01"), CIFactory(name="lb-01")
    low = IncidentFactory(title="Slow pages", priority=4)
    low.affected_cis.set([web])
    urgent = IncidentFactory(title="Checkout down", priority=2, assignment_team=network_team)
    urgent.affected_cis.set([db, web])
    other = IncidentFactory(title="Timeouts", priority=3)
    other.affected_cis.set([lb])

    problem = services.problem_from_incidents([low.pk, urgent.pk, other.pk], user=alice)

    assert problem.title == "Checkout down (+2 related incidents)"
    assert problem.priority == 2
    assert problem.assignment_team == network_team
    assert set(problem.affected_cis.all()) == {web, db, lb}
    assert set(problem.incidents.all()) == {low, urgent, other}
    assert problem.description.splitlines()[0] == "Opened from 3 incidents:"
    assert urgent.number in problem.description.splitlines()[1]  # the most urgent first


def test_a_problem_from_one_incident_keeps_its_title_or_the_given_one(alice):
    incident = IncidentFactory(title="Printer on fire", priority=1)
    assert services.problem_from_incidents([incident.pk], user=alice).title == "Printer on fire"
    other = IncidentFactory()
    named = services.problem_from_incidents([str(other.pk)], user=alice, title="  Toner supply  ")
    assert named.title == "Toner supply"


def test_a_long_derived_title_is_shortened_to_fit_but_a_given_one_is_refused(alice):
    first = IncidentFactory(title="x" * 200, priority=1)
    second = IncidentFactory()
    problem = services.problem_from_incidents([first.pk, second.pk], user=alice)
    assert len(problem.title) == 200
    assert problem.title.endswith("… (+1 related incident)")
    third = IncidentFactory()
    with pytest.raises(ValidationError) as refused:
        services.problem_from_incidents([third.pk], user=alice, title="y" * 201)
    assert "title" in refused.value.message_dict


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "Pick at least one incident."),
        (["abc"], "Expected incident ids (whole numbers), not “abc”."),
        ([True], "Expected incident ids (whole numbers), not “True”."),
        ([424242], "No incident with id 424242."),
    ],
)
def test_from_incidents_refuses_bad_ids_and_writes_nothing(alice, ids, message):
    with pytest.raises(ValidationError) as refused:
        services.problem_from_incidents(ids, user=alice)
    assert refused.value.message_dict == {"incidents": [message]}
    assert not Problem.objects.exists()


def test_an_incident_linked_to_another_open_problem_is_refused_naming_it(alice):
    taken = IncidentFactory()
    owner = services.create_problem(user=alice, title="First", incidents=[taken.pk])
    free = IncidentFactory()
    with pytest.raises(ValidationError) as refused:
        services.problem_from_incidents([free.pk, taken.pk], user=alice)
    assert refused.value.message_dict["incidents"] == [
        f"{taken.number} is linked to {owner.number}: unlink it there first."
    ]
    assert Problem.objects.count() == 1
    free.refresh_from_db()
    assert free.problem is None


def test_an_incident_of_a_closed_problem_may_be_linked_again(alice):
    incident = IncidentFactory()
    old = problem_in(P.CLOSED)
    Incident.objects.filter(pk=incident.pk).update(problem=old)
    problem = services.problem_from_incidents([incident.pk], user=alice)
    incident.refresh_from_db()
    assert incident.problem == problem


# --- Transitions ------------------------------------------------------------------------------


ALLOWED = [(current, target) for current, targets in PROBLEM_TRANSITIONS.items() for target in targets]
REFUSED = [(current, target) for current in ALL_STATES for target in ALL_STATES if (current, target) not in ALLOWED]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_allowed_move_is_made_and_recorded(alice, current, target):
    problem = problem_in(current)
    moved = services.transition_problem(problem, target, user=alice, note="Because.")
    assert moved.state == target
    assert Problem.objects.get(pk=problem.pk).state == target
    entry = ProblemTimelineEntry.objects.get(problem=problem, kind=ProblemTimelineKind.STATE)
    assert entry.data == {"from": current, "to": target}
    assert entry.body == "Because." and entry.author == alice


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_every_other_move_is_refused_with_the_allowed_states(alice, current, target):
    problem = problem_in(current)
    with pytest.raises(TransitionNotAllowed) as refused:
        services.transition_problem(problem, target, user=alice, note="Because.")
    assert refused.value.status_code == 409
    assert refused.value.allowed == [str(s) for s in PROBLEM_TRANSITIONS[current]]
    assert Problem.objects.get(pk=problem.pk).state == current
    assert not ProblemTimelineEntry.objects.exists()


def test_an_unknown_state_is_a_400_listing_the_states(alice):
    problem = problem_in(P.NEW)
    with pytest.raises(ValidationError) as refused:
        services.transition_problem(problem, "fixed", user=alice)
    assert "Unknown state “fixed”: one of new, assess" in refused.value.message_dict["state"][0]


@pytest.mark.parametrize("target", [P.FIX_IN_PROGRESS, P.RESOLVED])
def test_fix_in_progress_and_resolved_need_the_root_cause(alice, target):
    problem = problem_in(P.ROOT_CAUSE_ANALYSIS, root_cause="  ")
    with pytest.raises(ValidationError) as refused:
        services.transition_problem(problem, target, user=alice)
    assert "Record the root cause" in refused.value.message_dict["root_cause"][0]
    assert Problem.objects.get(pk=problem.pk).state == P.ROOT_CAUSE_ANALYSIS


def test_closing_unresolved_and_reopening_need_a_note(alice):
    unresolved = problem_in(P.ASSESS)
    with pytest.raises(ValidationError) as refused:
        services.transition_problem(unresolved, P.CLOSED, user=alice, note="   ")
    assert "note" in refused.value.message_dict
    resolved = problem_in(P.RESOLVED)
    with pytest.raises(ValidationError) as reopen:
        services.transition_problem(resolved, P.ROOT_CAUSE_ANALYSIS, user=alice)
    assert "reopened" in reopen.value.message_dict["note"][0]
    # Closing a resolved problem needs no note.
    assert services.transition_problem(resolved, P.CLOSED, user=alice).state == P.CLOSED


def test_resolution_and_closure_times_are_kept_and_cleared_on_reopening(alice):
    problem = problem_in(P.ROOT_CAUSE_ANALYSIS)
    resolved = services.transition_problem(problem, P.RESOLVED, user=alice)
    assert resolved.resolved_at is not None and resolved.closed_at is None
    reopened = services.transition_problem(problem, P.ROOT_CAUSE_ANALYSIS, user=alice, note="It came back.")
    assert reopened.resolved_at is None
    services.transition_problem(problem, P.RESOLVED, user=alice)
    closed = services.transition_problem(problem, P.CLOSED, user=alice)
    assert closed.closed_at is not None and closed.resolved_at is not None


def test_a_resolution_reaches_the_open_linked_incidents_only(alice):
    problem = problem_in(P.FIX_IN_PROGRESS, root_cause="A leaking connection pool.")
    open_one = IncidentFactory(problem=problem, state="in_progress")
    done = IncidentFactory(problem=problem, state="resolved")
    services.transition_problem(problem, P.RESOLVED, user=alice, note="Patched in 2.4.1.")
    [note] = work_notes(open_one)
    assert note.body.startswith(f"Problem {problem.number} is resolved.")
    assert "A leaking connection pool." in note.body and "Patched in 2.4.1." in note.body
    assert note.public is False
    assert work_notes(done) == []


# --- Workarounds ------------------------------------------------------------------------------


def test_a_workaround_reaches_every_open_linked_incident_as_a_work_note(alice, bob, network_team):
    problem = problem_in(P.ROOT_CAUSE_ANALYSIS, assignment_team=network_team, assignee=alice)
    states = ["new", "in_progress", "on_hold", "resolved", "closed", "canceled"]
    incidents = {state: IncidentFactory(problem=problem, state=state, assignee=bob) for state in states}
    unrelated = IncidentFactory(state="new")

    updated = services.post_workaround(problem, user=alice, workaround="  Restart the pool nightly.  ")

    assert updated.workaround == "Restart the pool nightly."
    for state, incident in incidents.items():
        notes = work_notes(incident)
        if state in ("new", "in_progress", "on_hold"):
            assert len(notes) == 1, state
            assert notes[0].body.endswith("Restart the pool nightly.")
            assert problem.number in notes[0].body and notes[0].public is False and notes[0].author == alice
        else:
            assert notes == [], state
    assert work_notes(unrelated) == []
    entry = ProblemTimelineEntry.objects.get(problem=problem, kind=ProblemTimelineKind.WORKAROUND)
    assert sorted(entry.data["incidents"]) == sorted(incidents[s].number for s in ("new", "in_progress", "on_hold"))


def test_a_workaround_notifies_the_incidents_assignees_leads_and_watchers_not_the_actor(alice, bob, network_team):
    watcher = UserFactory(username="wanda")
    lead = UserFactory(username="lena")
    problem = problem_in(P.ASSESS, assignment_team=network_team, assignee=alice)
    assigned = IncidentFactory(problem=problem, state="in_progress", assignee=bob)
    assigned.watchers.add(watcher)
    IncidentFactory(problem=problem, state="new", assignment_team=TeamFactory(name="Storage", lead=lead))
    IncidentFactory(problem=problem, state="closed", assignee=UserFactory(username="cleo"))

    services.post_workaround(problem, user=alice, workaround="Use the spare link.")

    rows = Notification.objects.filter(event="problem.workaround")
    assert {n.recipient.username for n in rows} == {"bob", "wanda", "lena"}
    assert all(n.body == "Use the spare link." for n in rows)


def test_a_blank_workaround_is_refused(alice):
    problem = problem_in(P.ASSESS)
    with pytest.raises(ValidationError) as refused:
        services.post_workaround(problem, user=alice, workaround=" \n ")
    assert "workaround" in refused.value.message_dict


def test_a_closed_problem_takes_no_workaround_edits_or_incidents(alice):
    problem = problem_in(P.CLOSED)
    incident = IncidentFactory()
    with pytest.raises(Conflict):
        services.post_workaround(problem, user=alice, workaround="Too late.")
    with pytest.raises(Conflict):
        services.update_problem(problem, user=alice, title="Renamed")
    with pytest.raises(Conflict):
        services.link_incidents(problem, [incident.pk], user=alice)
    problem.refresh_from_db()
    assert problem.workaround == "" and problem.title != "Renamed"


# --- Linking ----------------------------------------------------------------------------------


def test_linking_is_idempotent_and_returns_only_the_newly_linked(alice):
    problem = problem_in(P.NEW)
    first, second = IncidentFactory(), IncidentFactory()
    assert services.link_incidents(problem, [first.pk], user=alice) == [first]
    assert services.link_incidents(problem, [first.pk, second.pk], user=alice) == [second]
    assert services.link_incidents(problem, [first.pk], user=alice) == []
    assert TimelineEntry.objects.filter(incident=first, kind=TimelineKind.LINK).count() == 1
    assert ProblemTimelineEntry.objects.filter(problem=problem, kind=ProblemTimelineKind.LINK).count() == 2


def test_incidents_linked_after_a_workaround_get_it_when_open(alice):
    problem = problem_in(P.ASSESS, workaround="Clear the cache.")
    open_one, closed = IncidentFactory(state="on_hold"), IncidentFactory(state="closed")
    services.link_incidents(problem, [open_one.pk, closed.pk], user=alice)
    assert [n.body.splitlines()[-1] for n in work_notes(open_one)] == ["Clear the cache."]
    assert work_notes(closed) == []


def test_unlinking_takes_the_incident_off_with_a_timeline_line(alice):
    problem = problem_in(P.NEW)
    incident = IncidentFactory(problem=problem)
    services.unlink_incident(problem, incident, user=alice)
    incident.refresh_from_db()
    assert incident.problem is None
    entry = TimelineEntry.objects.get(incident=incident, kind=TimelineKind.LINK)
    assert entry.body.startswith(f"Unlinked from problem {problem.number}") and entry.data["linked"] is False
    with pytest.raises(ValidationError) as refused:
        services.unlink_incident(problem, incident, user=alice)
    assert refused.value.message_dict == {"incident": [f"{incident.number} is not linked to {problem.number}."]}


def test_incident_references_accept_ids_and_numbers_and_name_the_unknown(alice):
    first, second = IncidentFactory(), IncidentFactory()
    refs = f"{first.number.lower()}, {second.pk} {first.pk}"
    assert services.resolve_incident_refs(refs) == [first.pk, second.pk]
    assert services.resolve_incident_refs([second.number, first.pk]) == [second.pk, first.pk]
    with pytest.raises(ValidationError) as unknown:
        services.resolve_incident_refs("INC9999999")
    assert unknown.value.message_dict == {"incidents": ["No incident numbered INC9999999."]}
    with pytest.raises(ValidationError) as bad:
        services.resolve_incident_refs(["PRB0000001"], field="incident")
    assert "is not an incident id or number" in bad.value.message_dict["incident"][0]


# --- Edits, notes, deletion -------------------------------------------------------------------


def test_update_changes_plain_fields_and_refuses_the_others_naming_their_action(alice, network_team):
    problem = problem_in(P.ASSESS)
    ci = CIFactory()
    updated = services.update_problem(
        problem,
        user=alice,
        title=" Renamed ",
        root_cause="Bad DNS TTL.",
        affected_cis=[ci],
        assignment_team=network_team,
    )
    assert updated.title == "Renamed" and updated.root_cause == "Bad DNS TTL."
    assert list(updated.affected_cis.all()) == [ci]
    with pytest.raises(ValidationError) as refused:
        services.update_problem(problem, user=alice, state="closed", workaround="x", number="PRB1")
    assert set(refused.value.message_dict) == {"state", "workaround", "number"}
    assert "transition" in refused.value.message_dict["state"][0]


def test_a_note_needs_words(alice):
    problem = problem_in(P.NEW)
    entry = services.add_problem_note(problem, user=alice, body=" Checked the kernel logs. ")
    assert entry.body == "Checked the kernel logs." and entry.kind == ProblemTimelineKind.NOTE
    with pytest.raises(ValidationError):
        services.add_problem_note(problem, user=alice, body="  ")


def test_deleting_a_problem_unlinks_its_incidents_and_keeps_its_known_errors(alice):
    problem = problem_in(P.ASSESS)
    incident = IncidentFactory(problem=problem)
    known_error = services.known_error_from_problem(problem, user=alice)
    services.delete_problem(problem, user=alice)
    assert not Problem.objects.filter(pk=problem.pk).exists()
    incident.refresh_from_db()
    assert incident.problem is None
    assert TimelineEntry.objects.get(incident=incident, kind=TimelineKind.LINK).body.endswith("was deleted")
    known_error.refresh_from_db()
    assert known_error.problem is None


# --- Concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_agents_moving_the_same_problem_at_once_one_wins_the_other_gets_409():
    """Both read the problem as assessed and close it at once. The row lock makes the second
    re-read the state: one close is made, the other refused with 409 (closed allows no move)."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    problem = ProblemFactory(state=P.ASSESS)
    start = threading.Barrier(2)
    outcomes, errors = {}, []

    def close(user):
        stale = Problem.objects.get(pk=problem.pk)
        try:
            start.wait(timeout=10)
            services.transition_problem(stale, P.CLOSED, user=user, note=f"Closed by {user.username}.")
            outcomes[user.username] = "moved"
        except TransitionNotAllowed as exc:
            outcomes[user.username] = (exc.status_code, exc.current, exc.allowed)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=close, args=(user,)) for user in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(outcomes.values(), key=str) == [(409, "closed", []), "moved"]
    winner = next(name for name, outcome in outcomes.items() if outcome == "moved")
    [entry] = ProblemTimelineEntry.objects.filter(problem=problem, kind=ProblemTimelineKind.STATE)
    assert entry.body == f"Closed by {winner}."
    assert Problem.objects.get(pk=problem.pk).state == P.CLOSED


@pytest.mark.django_db(transaction=True)
def test_two_agents_recording_the_same_known_error_at_once_make_one():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    problem = ProblemFactory(state=P.ROOT_CAUSE_ANALYSIS, root_cause="Expired certificate.")
    start = threading.Barrier(2)
    outcomes, errors = [], []

    def record(user):
        try:
            start.wait(timeout=10)
            services.known_error_from_problem(problem, user=user)
            outcomes.append("made")
        except Conflict:
            outcomes.append(409)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=record, args=(user,)) for user in (alice, bob)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(outcomes, key=str) == [409, "made"]
    assert KnownError.objects.filter(problem=problem).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_agents_linking_one_incident_to_two_problems_at_once_link_it_once():
    """The incident rows are locked and re-read: the second link sees the first and is refused."""
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    incident = IncidentFactory()
    first, second = ProblemFactory(), ProblemFactory()
    start = threading.Barrier(2)
    outcomes, errors = {}, []

    def link(user, problem):
        try:
            start.wait(timeout=10)
            services.link_incidents(problem, [incident.pk], user=user)
            outcomes[problem.number] = "linked"
        except ValidationError as exc:
            outcomes[problem.number] = exc.message_dict["incidents"][0]
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=link, args=args) for args in ((alice, first), (bob, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    incident.refresh_from_db()
    winner = Problem.objects.get(pk=incident.problem_id)
    loser = first if winner == second else second
    assert outcomes == {
        winner.number: "linked",
        loser.number: f"{incident.number} is linked to {winner.number}: unlink it there first.",
    }
    assert TimelineEntry.objects.filter(incident=incident, kind=TimelineKind.LINK).count() == 1
