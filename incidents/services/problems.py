"""Every write to problems and known errors: the UI, the API, the admin and tasks call these.

Each function runs in one transaction with the problem's row locked (``select_for_update``) and
its state re-read; bad input raises ``ValidationError({field: message})`` (400), a state change
the transition table (``incidents.choices.PROBLEM_TRANSITIONS``) refuses raises
``TransitionNotAllowed`` (409, with the allowed states), and a write the problem's state forbids
(editing a closed problem, a second known error from the same problem) raises ``Conflict`` (409).

What reaches incidents goes through ``incidents.timeline.record``: linking and unlinking write a
link entry on each incident, a workaround (and a resolution) reaches every *open* linked incident
as a work note. Notifications (``problem.created``, ``problem.workaround``) are queued with
``itom.notifications.notify``, which sends them only once the transaction commits.
"""

import re

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.choices import (
    OPEN_PROBLEM_STATES,
    OPEN_STATES,
    PROBLEM_TRANSITIONS,
    ProblemState,
    ProblemTimelineKind,
    TimelineKind,
)
from incidents.models import Incident, KnownError, Problem, ProblemTimelineEntry
from incidents.timeline import author_label, record
from itom.api.exceptions import Conflict, TransitionNotAllowed
from itom.notifications import notify

P = ProblemState
MAX_LINKED_AT_ONCE = 500  # incidents one call may link (the bulk bar's selection is far smaller)
TITLE_MAX = Problem._meta.get_field("title").max_length

# What ``update_problem`` / ``update_known_error`` may change; the rest has its own service.
PROBLEM_EDITABLE = (
    "title",
    "description",
    "priority",
    "category",
    "assignment_team",
    "assignee",
    "affected_cis",
    "root_cause",
)
NOT_EDITABLE_REASONS = {
    "state": "Change the state with a transition.",
    "workaround": "Post the workaround: it reaches the open linked incidents as a work note.",
    "number": "The number is allocated once and never changes.",
}
KNOWN_ERROR_EDITABLE = ("title", "symptom", "root_cause", "workaround", "affected_cis", "active", "problem")


# --- Problems ---------------------------------------------------------------------------------


@transaction.atomic
def create_problem(
    *,
    user,
    title,
    description="",
    priority=3,
    category=None,
    assignment_team=None,
    assignee=None,
    affected_cis=(),
    incidents=(),
    root_cause="",
):
    """Open a problem, optionally with affected CIs and incidents already linked to it (and a
    root cause, when it is known from the start)."""
    problem = Problem(
        title=(title or "").strip(),
        description=description or "",
        root_cause=root_cause or "",
        priority=priority,
        category=category,
        assignment_team=assignment_team,
        assignee=assignee,
        opened_by=user,
    )
    _check_assignee(problem)
    problem.full_clean(exclude=["number"])
    incident_ids = _incident_ids(incidents, required=False)
    problem.save()
    if affected_cis:
        problem.affected_cis.set(affected_cis)
    if incident_ids:
        _link(problem, incident_ids, user=user)
    notify(
        "problem.created",
        problem,
        recipients=_problem_team_recipients(problem),
        actor=user,
        title=f"{problem.number} opened: {problem.title}",
        body=problem.description,
        url=problem.get_absolute_url(),
        data=_problem_data(problem),
    )
    return problem


@transaction.atomic
def problem_from_incidents(incident_ids, *, user, title=None):
    """Open a problem for ``incident_ids`` (the incident queue's "Create problem"): its title that
    of the most urgent incident (unless ``title`` is given), its priority the highest of theirs,
    its team and category those of the most urgent incident, its affected CIs all of theirs, its
    description the list of incidents; the incidents are linked to it."""
    ids = _incident_ids(incident_ids, required=True)
    incidents = list(
        Incident.objects.filter(pk__in=ids)
        .select_related("assignment_team", "category")
        .prefetch_related("affected_cis")
        .order_by("priority", "created_at", "pk")
    )
    _check_all_found(ids, incidents)
    lead = incidents[0]
    title = (title or "").strip()  # a given title is validated as it is; a derived one made to fit
    if not title:
        title = _shorten(lead.title, TITLE_MAX)
        if len(incidents) > 1:
            suffix = f" (+{len(incidents) - 1} related incident{'s' if len(incidents) > 2 else ''})"
            title = _shorten(lead.title, TITLE_MAX - len(suffix)) + suffix
    cis = {ci.pk: ci for incident in incidents for ci in incident.affected_cis.all()}
    lines = "\n".join(
        f"- {incident.number} {incident.title} ({incident.get_state_display()}, P{incident.priority})"
        for incident in incidents
    )
    return create_problem(
        user=user,
        title=title,
        description=f"Opened from {len(incidents)} incident{'s' if len(incidents) != 1 else ''}:\n{lines}",
        priority=min(incident.priority for incident in incidents),
        category=lead.category,
        assignment_team=lead.assignment_team,
        affected_cis=list(cis.values()),
        incidents=[incident.pk for incident in incidents],
    )


@transaction.atomic
def update_problem(problem, *, user, **fields):
    """Change a problem's plain fields (``PROBLEM_EDITABLE``); ``affected_cis`` replaces the set.
    A closed problem can no longer be edited (409)."""
    refused = {name: NOT_EDITABLE_REASONS.get(name, "Not a field that can be edited.") for name in fields}
    refused = {name: reason for name, reason in refused.items() if name not in PROBLEM_EDITABLE}
    if refused:
        raise ValidationError(refused)
    problem = _locked(problem)
    if problem.state == P.CLOSED:
        raise Conflict(f"{problem.number} is closed: it can no longer be edited.")
    cis = fields.pop("affected_cis", None)
    for name, value in fields.items():
        setattr(problem, name, value.strip() if name == "title" and isinstance(value, str) else value)
    _check_assignee(problem)
    problem.full_clean(exclude=["number"])
    problem.save()
    if cis is not None:
        problem.affected_cis.set(cis)
    return problem


def allowed_problem_transitions(problem):
    return [str(state) for state in PROBLEM_TRANSITIONS[problem.state]]


@transaction.atomic
def transition_problem(problem, state, *, user, note=""):
    """Move a problem along ``PROBLEM_TRANSITIONS``. Fix in progress and resolved need the root
    cause recorded; closing a problem that was not resolved, and reopening a resolved one, need a
    note saying why. A resolution reaches the open linked incidents as a work note."""
    if state not in P.values:
        raise ValidationError({"state": f"Unknown state “{state}”: one of {', '.join(P.values)}."})
    problem = _locked(problem)
    allowed = PROBLEM_TRANSITIONS[problem.state]
    if state not in allowed:
        raise TransitionNotAllowed(problem.state, state, [str(s) for s in allowed])
    note = (note or "").strip()
    previous = problem.state
    if state in (P.FIX_IN_PROGRESS, P.RESOLVED) and not problem.root_cause.strip():
        label = P(state).label.lower()
        raise ValidationError({"root_cause": f"Record the root cause before moving the problem to {label}."})
    if state == P.CLOSED and previous != P.RESOLVED and not note:
        raise ValidationError({"note": "Say why the problem is closed without having been resolved."})
    if previous == P.RESOLVED and state != P.CLOSED and not note:
        raise ValidationError({"note": "Say why the resolved problem is reopened."})
    now = timezone.now()
    problem.state = state
    if state == P.RESOLVED:
        problem.resolved_at = now
    elif previous == P.RESOLVED and state != P.CLOSED:
        problem.resolved_at = None
    if state == P.CLOSED:
        problem.closed_at = now
    problem.save()
    _log(
        problem,
        ProblemTimelineKind.STATE,
        user=user,
        body=note,
        data={"from": previous, "to": state},
    )
    if state == P.RESOLVED:
        body = f"Problem {problem.number} is resolved.\nRoot cause: {problem.root_cause.strip()}"
        if note:
            body += f"\n{note}"
        for incident in _open_incidents(problem):
            record(
                incident,
                TimelineKind.WORK_NOTE,
                user=user,
                body=body,
                public=False,
                data={"problem": problem.pk, "problem_number": problem.number, "problem_state": state},
            )
    return problem


@transaction.atomic
def post_workaround(problem, *, user, workaround):
    """Record the workaround on the problem and post it as a work note on every open linked
    incident (new, in progress, on hold); notify those incidents' assignees (or their team
    leads when unassigned), watchers and the problem's assignee."""
    text = (workaround or "").strip()
    if not text:
        raise ValidationError({"workaround": "Describe the workaround."})
    problem = _locked(problem)
    if problem.state == P.CLOSED:
        raise Conflict(f"{problem.number} is closed: it takes no more workarounds.")
    problem.workaround = text
    problem.full_clean(exclude=["number"])
    problem.save()
    incidents = _open_incidents(problem, for_notifications=True)
    _post_workaround_notes(problem, incidents, user=user)
    _log(
        problem,
        ProblemTimelineKind.WORKAROUND,
        user=user,
        body=text,
        data={"incidents": [incident.number for incident in incidents]},
    )
    recipients = _ordered_users(
        [problem.assignee]
        + [incident.assignee or getattr(incident.assignment_team, "lead", None) for incident in incidents]
        + [watcher for incident in incidents for watcher in incident.watchers.all()]
    )
    notify(
        "problem.workaround",
        problem,
        recipients=recipients,
        actor=user,
        title=f"Workaround for {problem.number}: {problem.title}",
        body=text,
        url=problem.get_absolute_url(),
        data=_problem_data(problem) | {"incidents": [incident.number for incident in incidents]},
    )
    return problem


@transaction.atomic
def link_incidents(problem, incident_ids, *, user):
    """Link incidents to the problem (those already linked to it are left as they are). An
    incident linked to another open problem is refused, naming it; a closed problem takes no
    more incidents. Open incidents linked to a problem that has a workaround get it as a work
    note. Returns the incidents newly linked."""
    ids = _incident_ids(incident_ids, required=True)
    problem = _locked(problem)
    if problem.state == P.CLOSED:
        raise Conflict(f"{problem.number} is closed: it takes no more incidents.")
    return _link(problem, ids, user=user)


@transaction.atomic
def unlink_incident(problem, incident, *, user):
    """Take an incident off the problem."""
    problem = _locked(problem)
    incident = Incident.objects.select_for_update().filter(pk=incident.pk).first()
    if incident is None or incident.problem_id != problem.pk:
        number = incident.number if incident is not None else "That incident"
        raise ValidationError({"incident": f"{number} is not linked to {problem.number}."})
    incident.problem = None
    incident.save(update_fields=["problem", "updated_at"])
    record(
        incident,
        TimelineKind.LINK,
        user=user,
        body=f"Unlinked from problem {problem.number} {problem.title}",
        data={"problem": problem.pk, "problem_number": problem.number, "linked": False},
    )
    _log(problem, ProblemTimelineKind.UNLINK, user=user, body=incident.number, data={"incidents": [incident.number]})
    return incident


@transaction.atomic
def add_problem_note(problem, *, user, body):
    """A note on the problem's timeline (analysis, findings, decisions)."""
    text = (body or "").strip()
    if not text:
        raise ValidationError({"body": "Write the note."})
    problem = _locked(problem)
    return _log(problem, ProblemTimelineKind.NOTE, user=user, body=text)


@transaction.atomic
def delete_problem(problem, *, user):
    """Delete a problem: its incidents are unlinked first (each with a timeline entry), its known
    errors stay and lose the link."""
    problem = _locked(problem)
    for incident in Incident.objects.select_for_update().filter(problem=problem).order_by("pk"):
        incident.problem = None
        incident.save(update_fields=["problem", "updated_at"])
        record(
            incident,
            TimelineKind.LINK,
            user=user,
            body=f"Problem {problem.number} {problem.title} was deleted",
            data={"problem": problem.pk, "problem_number": problem.number, "linked": False},
        )
    problem.delete()


# --- Known errors -----------------------------------------------------------------------------


@transaction.atomic
def create_known_error(
    *, user, title, symptom, root_cause="", workaround="", affected_cis=(), problem=None, active=True
):
    """Record a known error (a symptom with its root cause and workaround) for the desk to match
    incidents against (``active=False`` records a retired one)."""
    known_error = KnownError(
        title=(title or "").strip(),
        symptom=(symptom or "").strip(),
        root_cause=root_cause or "",
        workaround=workaround or "",
        problem=problem,
        active=active,
    )
    known_error.full_clean(exclude=["number"])
    known_error.save()
    if affected_cis:
        known_error.affected_cis.set(affected_cis)
    if problem is not None:
        _log(
            problem,
            ProblemTimelineKind.KNOWN_ERROR,
            user=user,
            body=f"{known_error.number} {known_error.title}",
            data={"known_error": known_error.pk, "number": known_error.number},
        )
    return known_error


@transaction.atomic
def known_error_from_problem(problem, *, user):
    """Record the problem as a known error: its title, its description as the symptom, its root
    cause, workaround and affected CIs. Needs the root cause; a problem that already has an
    active known error gets no second one (409, naming it)."""
    problem = _locked(problem)
    if not problem.root_cause.strip():
        raise ValidationError({"root_cause": "Record the root cause before recording a known error."})
    existing = problem.known_errors.filter(active=True).order_by("pk").first()
    if existing is not None:
        raise Conflict(f"{problem.number} already has the known error {existing.number}.")
    return create_known_error(
        user=user,
        title=problem.title,
        symptom=problem.description.strip() or problem.title,
        root_cause=problem.root_cause,
        workaround=problem.workaround,
        affected_cis=list(problem.affected_cis.all()),
        problem=problem,
    )


@transaction.atomic
def update_known_error(known_error, *, user, **fields):
    """Change a known error's fields (``KNOWN_ERROR_EDITABLE``); ``active=False`` retires it
    (no longer suggested on incidents)."""
    refused = {name: "Not a field that can be edited." for name in fields if name not in KNOWN_ERROR_EDITABLE}
    if refused:
        raise ValidationError(refused)
    known_error = KnownError.objects.select_for_update().get(pk=known_error.pk)
    cis = fields.pop("affected_cis", None)
    for name, value in fields.items():
        if name in ("title", "symptom") and isinstance(value, str):
            value = value.strip()
        setattr(known_error, name, value)
    known_error.full_clean(exclude=["number"])
    known_error.save()
    if cis is not None:
        known_error.affected_cis.set(cis)
    return known_error


@transaction.atomic
def delete_known_error(known_error, *, user):
    KnownError.objects.select_for_update().filter(pk=known_error.pk).first()
    known_error.delete()


def resolve_incident_refs(refs, *, field="incidents"):
    """Incident ids from references people and integrations give: ids (``12``, ``"12"``) or
    numbers (``"INC0000012"``, any case), in a list or as one comma/space-separated string.
    Unknown numbers are refused, naming them (``field`` names the input in the error)."""
    if refs is None:
        return []
    if isinstance(refs, str):
        refs = [part for part in re.split(r"[\s,;]+", refs) if part]
    elif not isinstance(refs, (list, tuple, set)):
        refs = [refs]
    parsed = []
    for ref in refs:
        text = str(ref).strip()
        if isinstance(ref, bool) or not text:
            raise ValidationError({field: f"“{ref}” is not an incident id or number."})
        if text.isdigit() and len(text) <= 18:
            parsed.append(int(text))
        elif re.fullmatch(r"(?i)INC\d{1,18}", text):
            parsed.append(text.upper())
        else:
            raise ValidationError({field: f"“{text}” is not an incident id or number (such as INC0000012)."})
    numbers = [ref for ref in parsed if isinstance(ref, str)]
    found = dict(Incident.objects.filter(number__in=numbers).values_list("number", "pk")) if numbers else {}
    unknown = [number for number in dict.fromkeys(numbers) if number not in found]
    if unknown:
        raise ValidationError({field: f"No incident numbered {', '.join(unknown)}."})
    return list(dict.fromkeys(found[ref] if isinstance(ref, str) else ref for ref in parsed))


# --- Helpers ----------------------------------------------------------------------------------


def _locked(problem):
    return Problem.objects.select_for_update().get(pk=problem.pk)


def _check_assignee(problem):
    assignee, team = problem.assignee, problem.assignment_team
    if assignee is None:
        return
    if team is None:
        raise ValidationError({"assignee": "Pick the assignment team first: the assignee must belong to it."})
    if team.lead_id != assignee.pk and not team.members.filter(pk=assignee.pk).exists():
        raise ValidationError({"assignee": f"{assignee.get_username()} is not a member of {team.name}."})


def _incident_ids(values, *, required):
    """Incident ids from a list of ids (ints or digit strings), deduplicated, order kept."""
    if values is None or isinstance(values, (str, bytes, int)):
        values = [values] if values not in (None, "") else []
    ids = []
    for value in values:
        text = str(value).strip()
        if isinstance(value, bool) or not re.fullmatch(r"\d{1,18}", text):
            raise ValidationError({"incidents": f"Expected incident ids (whole numbers), not “{value}”."})
        if int(text) not in ids:
            ids.append(int(text))
    if required and not ids:
        raise ValidationError({"incidents": "Pick at least one incident."})
    if len(ids) > MAX_LINKED_AT_ONCE:
        raise ValidationError({"incidents": f"At most {MAX_LINKED_AT_ONCE} incidents at once (got {len(ids)})."})
    return ids


def _check_all_found(ids, incidents):
    missing = sorted(set(ids) - {incident.pk for incident in incidents})
    if missing:
        raise ValidationError({"incidents": f"No incident with id {', '.join(str(pk) for pk in missing)}."})


def _link(problem, ids, *, user):
    incidents = list(Incident.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    _check_all_found(ids, incidents)
    others = {incident.problem_id for incident in incidents if incident.problem_id not in (None, problem.pk)}
    if others:
        open_elsewhere = {
            other.pk: other.number
            for other in Problem.objects.filter(pk__in=others, state__in=OPEN_PROBLEM_STATES).only("pk", "number")
        }
        taken = [
            f"{incident.number} is linked to {open_elsewhere[incident.problem_id]}"
            for incident in incidents
            if incident.problem_id in open_elsewhere
        ]
        if taken:
            raise ValidationError({"incidents": f"{'; '.join(taken)}: unlink it there first."})
    new = [incident for incident in incidents if incident.problem_id != problem.pk]
    if not new:
        return []
    for incident in new:
        incident.problem = problem
        incident.save(update_fields=["problem", "updated_at"])
        record(
            incident,
            TimelineKind.LINK,
            user=user,
            body=f"Linked to problem {problem.number} {problem.title}",
            data={"problem": problem.pk, "problem_number": problem.number, "linked": True},
        )
    if problem.workaround.strip():
        _post_workaround_notes(problem, [i for i in new if i.state in OPEN_STATES], user=user)
    _log(
        problem,
        ProblemTimelineKind.LINK,
        user=user,
        body=", ".join(incident.number for incident in new),
        data={"incidents": [incident.number for incident in new]},
    )
    return new


def _post_workaround_notes(problem, incidents, *, user):
    body = f"Workaround from problem {problem.number} {problem.title}:\n{problem.workaround.strip()}"
    for incident in incidents:
        record(
            incident,
            TimelineKind.WORK_NOTE,
            user=user,
            body=body,
            public=False,
            data={"problem": problem.pk, "problem_number": problem.number, "workaround": True},
        )


def _open_incidents(problem, for_notifications=False):
    incidents = Incident.objects.filter(problem=problem, state__in=OPEN_STATES).order_by("pk")
    if for_notifications:
        incidents = incidents.select_related("assignee", "assignment_team__lead").prefetch_related("watchers")
    return list(incidents)


def _log(problem, kind, *, user=None, body="", data=None):
    return ProblemTimelineEntry.objects.create(
        problem=problem,
        time=timezone.now(),
        kind=kind,
        author=user if user is not None and getattr(user, "is_authenticated", False) else None,
        author_name=author_label(user)[:150],
        body=body,
        data=data or {},
    )


def _problem_team_recipients(problem):
    """Who hears of a new problem: its assignee and its team (lead and members)."""
    team = problem.assignment_team
    users = [problem.assignee]
    if team is not None:
        users += [team.lead, *team.members.filter(is_active=True).order_by("pk")]
    return _ordered_users(users)


def _ordered_users(users):
    seen, result = set(), []
    for user in users:
        if user is not None and user.is_active and user.pk not in seen:
            seen.add(user.pk)
            result.append(user)
    return result


def _problem_data(problem):
    return {
        "problem": problem.pk,
        "number": problem.number,
        "title": problem.title,
        "state": problem.state,
        "priority": problem.priority,
        "assignment_team": problem.assignment_team_id,
        "assignee": problem.assignee_id,
    }


def _shorten(text, limit):
    return text if len(text) <= limit else text[: max(limit - 1, 0)].rstrip() + "…"
