"""Every state change and multi-step operation of a change request (DESIGN.md §7).

The UI, the API, the admin, Celery tasks and tests call these functions. Each runs in one
transaction with the change's row locked (``SELECT … FOR UPDATE``) and its state re-read, so two
people acting at once are serialised and the second sees the first one's result. The functions
return the change as it is now (the instance passed in may be stale afterwards).

Bad input raises Django's ``ValidationError`` naming the field (400 in the API, a form error in
the UI); a move the per-type table (``changes.choices.CHANGE_TRANSITIONS``) refuses raises
``TransitionNotAllowed`` (409, with the allowed states); any other write the change's state
forbids — editing a closed change, scheduling before the approvals or into a blackout window —
raises ``Conflict`` (409); a manager-only act by someone else raises ``PermissionDenied`` (403).
Nothing is written when one of them is raised.

The approval rounds live in ``changes.services.approvals`` (``transition`` starts one when a
change enters ``authorize``; ``approvals.decide`` calls ``enter_scheduled`` after the last
approval), the blackout and conflict checks in ``changes.conflicts``, the risk score in
``changes.risk``. The loop with incidents: a linked incident waits on hold ("awaiting change")
and resolves when the change closes successfully — unless monitoring raised it, then it waits
for its alerts to recover (issue 6 resolves it).

``user`` is the person acting, or None for the system and tasks. The input checks are in
``changes.services.checks``; the incident links in ``changes.services.incident_links``
(``link_incident``, ``unlink_incident`` and ``mark_cause`` are importable from here too).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.assignment import assignment_line, in_team
from changes import risk
from changes.choices import (
    APPROVED_STATES,
    CHANGE_TRANSITIONS,
    DONE_STATES,
    SUCCESS_CODES,
    ChangeState,
    ChangeTimelineKind,
    ChangeType,
    CloseCode,
    RiskLevel,
    review_required,
)
from changes.models import ChangeRequest, RiskQuestion, StandardChangeTemplate
from changes.notifications import notify_about, requester_and_assignee
from changes.services.checks import (
    as_ids,
    check_assignment,
    check_template,
    check_window,
    ci_ids_of,
    clean_text,
    clean_values,
    collect,
    lock_change,
    open_incidents,
    refused_fields,
    resolve,
    risk_options,
)
from changes.services.incident_links import (  # noqa: F401 (part of this module's interface)
    link,
    link_incident,
    mark_cause,
    release_incidents,
    unlink_incident,
)
from changes.timeline import record
from cmdb.models import CI
from cmdb.selectors import affected_ci_ids
from incidents.choices import OPEN_STATES as INCIDENT_OPEN_STATES
from incidents.models import Incident
from incidents.notifications import team_members
from itom.api.exceptions import Conflict, TransitionNotAllowed
from itom.roles import is_manager

S, T = ChangeState, ChangeType

WINDOW_FIELDS = ("planned_start", "planned_end")
# The fields the templates hand down to a standard change.
TEMPLATE_PLANS = ("implementation_plan", "backout_plan", "test_plan")
# An edit of these after the approval round began resets the approvals.
APPROVAL_SENSITIVE_FIELDS = ("affected_cis", *WINDOW_FIELDS, *TEMPLATE_PLANS)
UPDATABLE_FIELDS = (
    "title",
    "description",
    "justification",
    "category",
    "assignment_team",
    "assignee",
    *APPROVAL_SENSITIVE_FIELDS,
    "emergency_justification",
)
# Before approval is requested these must be filled in (``authorize``).
AUTHORIZE_REQUIRES = {
    "implementation_plan": "Write the implementation plan before asking for approval.",
    "backout_plan": "Write the backout plan before asking for approval.",
    "planned_start": "Set the planned start before asking for approval.",
    "planned_end": "Set the planned end before asking for approval.",
}
# While the questionnaire may be answered and the risk overridden.
RISK_EDITABLE_STATES = (S.NEW, S.ASSESS)
MAX_NOTE_LENGTH = 20_000
TITLE_MAX = ChangeRequest._meta.get_field("title").max_length


# --- helpers ----------------------------------------------------------------------------------


def _approvals():
    from changes.services import approvals  # it calls back into this module (enter_scheduled)

    return approvals


def _when(value):
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}" if value else "—"


def _iso(value):
    return value.isoformat() if value else None


# --- impact and risk --------------------------------------------------------------------------


def refresh_impact(change):
    """Store what the change's affected CIs reach in the CMDB: ``impacted_cis`` (everything
    downstream of them, the affected CIs left out) and ``impacted_services`` (the business
    services among the affected and impacted CIs). Returns ``(impacted ids, service ids)``."""
    affected = set(change.affected_cis.values_list("pk", flat=True))
    reached = affected_ci_ids(affected) if affected else set()
    impacted = sorted(reached - affected)
    services = (
        sorted(CI.objects.filter(pk__in=reached, ci_class__is_business_service=True).values_list("pk", flat=True))
        if reached
        else []
    )
    change.impacted_cis.set(impacted)
    change.impacted_services.set(services)
    return impacted, services


def _reassess(change, user, why, at):
    """Recompute the risk; a ``risk`` timeline line when the score or the level moved."""
    before = (change.risk_score, change.risk_level)
    assessment = risk.apply(change)
    if (assessment.score, assessment.level) != before:
        record(
            change,
            ChangeTimelineKind.RISK,
            user=user,
            body=f"Risk reassessed ({why}): {RiskLevel(before[1]).label} → {RiskLevel(assessment.level).label} "
            f"(score {before[0]} → {assessment.score}).",
            data={"from_level": before[1], "to_level": assessment.level, "from": before[0], "to": assessment.score},
            time=at,
        )
    return assessment


# --- creating and editing ---------------------------------------------------------------------


@transaction.atomic
def create_change(*, user, title, type=None, template=None, incidents=(), risk_answers=(), **fields):
    """Request a change and return it.

    ``type`` is standard, normal or emergency (default: standard when a ``template`` is given,
    else normal); a standard change is made from an *approved* template, whose plans, team,
    category and risk level it takes (a team or category given wins). ``fields`` are those of
    ``UPDATABLE_FIELDS``; related objects may be given as instances or ids. ``incidents`` are
    linked (they go on hold, awaiting the change); ``risk_answers`` are questionnaire options.
    The impacted CIs and services come from the CMDB, the risk from ``changes.risk``; the team
    and the assignee are told."""
    errors = refused_fields(fields, UPDATABLE_FIELDS)
    template = collect(errors, lambda: resolve(StandardChangeTemplate, template, "template", "template"))
    if type in (None, ""):
        type = T.STANDARD if template is not None else T.NORMAL
    if type not in T.values:
        errors["type"] = [f"Unknown type {type!r}: one of {', '.join(T.values)}."]
    elif type == T.STANDARD and template is None and "template" not in errors:
        errors["template"] = ["A standard change is made from an approved template: choose one."]
    elif type != T.STANDARD and template is not None:
        errors["template"] = [f"Only a standard change is made from a template, not a {type} change."]
    values = clean_values(fields, errors)
    values["title"] = clean_text(title)
    if not values["title"]:
        errors["title"] = ["Give the change a title."]
    ci_ids = collect(errors, lambda: ci_ids_of(fields.get("affected_cis", ())))
    if template is not None and "template" not in errors:
        collect(errors, lambda: check_template(template, ci_ids or []))
        for name in TEMPLATE_PLANS:
            values[name] = getattr(template, name)
        if values.get("assignment_team") is None and "assignment_team" not in errors:
            values["assignment_team"] = template.assignment_team
        if values.get("category") is None and "category" not in errors:
            values["category"] = template.category
    assignment = collect(errors, lambda: check_assignment(values.get("assignment_team"), values.get("assignee")))
    if assignment is not None:
        values["assignment_team"], values["assignee"] = assignment
    collect(errors, lambda: check_window(values.get("planned_start"), values.get("planned_end")))
    linked = collect(errors, lambda: open_incidents(incidents)) or []
    options = collect(errors, lambda: risk_options(risk_answers)) or []
    acting = user if user is not None and user.is_authenticated else None
    change = ChangeRequest(
        type=type,
        template=template if type == T.STANDARD else None,
        requester=acting,
        opened_by=acting,
        **values,
    )
    collect(errors, lambda: change.full_clean(exclude=["number", *errors]))
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    change.save()
    if ci_ids:
        change.affected_cis.set(ci_ids)
        refresh_impact(change)
    if options:
        change.risk_answers.set(options)
    assessment = risk.apply(change)
    made_from = f" from the template {template}" if change.template_id else ""
    record(
        change,
        ChangeTimelineKind.STATE,
        user=user,
        body=f"Requested: {change.get_type_display().lower()} change{made_from}, "
        f"risk {RiskLevel(assessment.level).label.lower()} (score {assessment.score}).",
        data={"from": None, "to": S.NEW, "type": change.type, "risk": assessment.level, "score": assessment.score},
        time=now,
    )
    if change.assignment_team_id is not None:
        line = assignment_line(None, None, change.assignment_team, change.assignee)
        record(change, ChangeTimelineKind.ASSIGNMENT, user=user, time=now, **line)
    for incident in linked:
        link(change, Incident.objects.select_for_update().get(pk=incident.pk), user=user)
    notify_about(
        "change.created",
        change,
        [*team_members(change.assignment_team_id), change.assignee],
        user=user,
        title=f"{change.number} requested: {change.title}",
        body=f"{change.get_type_display()} change, risk {RiskLevel(assessment.level).label.lower()}. "
        f"{change.description[:500]}".strip(),
    )
    return change


def incident_change_defaults(incident):
    """What a change requested for ``incident`` starts with (``request_change_for_incident``, and
    the form the incident page's "Request change" opens): a title naming the incident, emergency
    for priority 1–2 else normal, its CIs, team and description."""
    title = f"Fix for {incident.number}: {incident.title}"
    return {
        "title": title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1] + "…",
        "type": T.EMERGENCY if incident.priority <= 2 else T.NORMAL,
        "affected_cis": list(incident.affected_cis.values_list("pk", flat=True)),
        "assignment_team": incident.assignment_team,
        "description": incident.description,
        "justification": f"Requested from {incident.number}: {incident.title}",
    }


def request_change_for_incident(incident, *, user, **fields):
    """Request a change that fixes ``incident`` (the incident page's "Request change"): an
    emergency change for a priority 1–2 incident, else a normal one, on the incident's CIs, for
    its team, with its description; the incident is linked and waits on hold for the change.
    ``fields`` (those of ``create_change``) override the defaults."""
    incident = resolve(Incident, getattr(incident, "pk", incident), "incident", "incident")  # as it is now
    if incident is None:
        raise ValidationError({"incident": "Choose the incident the change fixes."})
    if incident.state not in INCIDENT_OPEN_STATES:
        state = incident.get_state_display().lower()
        raise ValidationError({"incident": f"{incident.number} is {state}: only an open incident waits for a change."})
    defaults = incident_change_defaults(incident)
    more = as_ids(fields.pop("incidents", ()), "incidents", "incidents")
    return create_change(user=user, incidents=[incident.pk, *more], **{**defaults, **fields})


@transaction.atomic
def update_change(change, *, user, **fields):
    """Change the fields of ``UPDATABLE_FIELDS`` (and ``type`` while the change is new).

    ``affected_cis`` replaces the set: the impact and the risk follow. Moving to another team
    drops an assignee who is not in it. When the plans, the schedule or the CIs change after the
    approval round began (``APPROVED_STATES``), the approvals are reset and a new round starts
    (``approvals.reset_approvals``). A closed or canceled change can't be edited (409)."""
    errors = refused_fields(fields, (*UPDATABLE_FIELDS, "type"))
    if errors:
        raise ValidationError(errors)
    change = lock_change(change)
    if change.state in DONE_STATES:
        raise Conflict(f"{change.number} is {change.get_state_display().lower()}: it can no longer be edited.")
    fields = dict(fields)
    new_type = fields.pop("type", change.type) or change.type
    cis = fields.pop("affected_cis", None)
    if new_type != change.type:
        if new_type not in T.values:
            errors["type"] = [f"Unknown type {new_type!r}: one of {', '.join(T.values)}."]
        elif change.state != S.NEW:
            errors["type"] = [f"The type can only be changed while the change is new (it is {change.state})."]
        elif new_type == T.STANDARD:
            errors["type"] = ["A standard change is made from an approved template: request one from the catalogue."]
    values = clean_values(fields, errors)
    if "title" in values and not values["title"]:
        errors["title"] = ["Give the change a title."]
    before = {name: getattr(change, name) for name in (*values, "assignment_team", "assignee", "type", "template")}
    for name, value in values.items():
        setattr(change, name, value)
    if "type" not in errors and new_type != change.type:
        change.type = new_type
        change.template = None  # a standard change made normal or emergency leaves its template
    if "assignment_team" in values or "assignee" in values:
        team, assignee = change.assignment_team, change.assignee
        moved_away = "assignment_team" in values and "assignee" not in values and assignee is not None
        if moved_away and not in_team(team, assignee):
            assignee = None  # moved to a team the assignee is not in
        assignment = collect(errors, lambda: check_assignment(team, assignee))
        if assignment is not None:
            change.assignment_team, change.assignee = assignment
    collect(errors, lambda: check_window(change.planned_start, change.planned_end))
    ci_ids = collect(errors, lambda: ci_ids_of(cis)) if cis is not None else None
    collect(errors, lambda: change.full_clean(exclude=["number", *errors]))
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    changed = [name for name, value in before.items() if getattr(change, name) != value]
    if changed:
        change.save()
    cis_changed = ci_ids is not None and set(ci_ids) != set(change.affected_cis.values_list("pk", flat=True))
    if cis_changed:
        change.affected_cis.set(ci_ids)
        refresh_impact(change)
    if cis_changed or "type" in changed:
        _reassess(change, user, "the CIs changed" if cis_changed else "the type changed", now)
    if "planned_start" in changed or "planned_end" in changed:
        old = [before.get(name, getattr(change, name)) for name in WINDOW_FIELDS]
        record(
            change,
            ChangeTimelineKind.SCHEDULE,
            user=user,
            body=f"Planned window: {_when(change.planned_start)} → {_when(change.planned_end)} "
            f"(was {_when(old[0])} → {_when(old[1])}).",
            data={"from": [_iso(v) for v in old], "to": [_iso(change.planned_start), _iso(change.planned_end)]},
            time=now,
        )
    if "assignment_team" in changed or "assignee" in changed:
        _record_assignment(change, user, before["assignment_team"], before["assignee"], now)
    sensitive = [name for name in APPROVAL_SENSITIVE_FIELDS if name in changed]
    if cis_changed:
        sensitive.insert(0, "affected_cis")
    if sensitive and change.state in APPROVED_STATES and change.approval_round > 0:
        _approvals().reset_approvals(change, user=user, reason=sensitive)
    return change


def _record_assignment(change, user, old_team, old_assignee, at):
    team, assignee = change.assignment_team, change.assignee
    line = assignment_line(old_team, old_assignee, team, assignee)
    record(change, ChangeTimelineKind.ASSIGNMENT, user=user, time=at, **line)
    if assignee is not None and assignee != old_assignee:
        recipients, title = [assignee], f"{change.number} assigned to you: {change.title}"
    elif team is not None and team != old_team:
        recipients, title = team_members(team.pk), f"{change.number} assigned to {team.name}: {change.title}"
    else:
        return
    notify_about("change.assigned", change, recipients, user=user, title=title)


# --- the state machine ------------------------------------------------------------------------


def allowed_transitions(change):
    """The states ``change`` may move to next: its type's table, without ``scheduled`` while
    the change in ``authorize`` awaits its approvals, and without ``closed`` from ``implement``
    for an emergency change (it goes through ``review``)."""
    states = [str(state) for state in _table(change)]
    if change.state == S.AUTHORIZE and change.approved_at is None:
        states.remove(S.SCHEDULED)
    if change.state == S.IMPLEMENT and review_required(change.type, ""):
        states.remove(S.CLOSED)  # an emergency change is always reviewed first
    return states


def _table(change):
    """The states the type's table lets the change go to from its state (none from a state the
    type never passes through, e.g. a standard change someone put in assess in the admin)."""
    return CHANGE_TRANSITIONS.get(change.type, {}).get(change.state, ())


def _check_request(state, close_code):
    """Field errors of a transition request that don't depend on the change."""
    if state not in S.values:
        raise ValidationError({"state": f"Unknown state {state!r}: one of {', '.join(S.values)}."})
    if close_code and close_code not in CloseCode.values:
        codes = ", ".join(CloseCode.values)
        raise ValidationError({"close_code": f"Unknown close code {close_code!r}: one of {codes}."})


def _required(change, names):
    """``{field: message}`` for the fields among ``names`` the change lacks."""
    values = {name: getattr(change, name) for name in names}
    missing = [name for name, value in values.items() if not (clean_text(value) if isinstance(value, str) else value)]
    return {name: AUTHORIZE_REQUIRES[name] for name in missing}


def _unanswered_questions(change):
    answered = change.risk_answers.values("question_id")
    return list(RiskQuestion.objects.filter(active=True).exclude(pk__in=answered).order_by("order", "pk"))


def _close_code_required(code, close_code_label):
    if not code:
        codes = ", ".join(CloseCode.values)
        raise ValidationError({"close_code": f"Say how the change went before {close_code_label}: one of {codes}."})


@transaction.atomic
def transition(
    change, state, *, user, note="", close_code="", close_notes="", review_notes="", emergency_justification=None
):
    """Move the change to ``state`` along its type's table and return it.

    - ``authorize`` needs the plans and the planned window (and, for a normal change, the
      risk questionnaire answered); it starts an approval round, and a change that needs none
      goes on to ``scheduled``;
    - ``scheduled`` needs the approvals (from ``authorize``) and the planned window outside
      any blackout window — unless the change is an emergency with a written
      ``emergency_justification`` (given here, or stored);
    - ``implement`` records the actual start; ``review`` the close code and the actual end;
    - ``closed`` needs a close code; an emergency or unsuccessful change goes through
      ``review`` first, and is closed with its ``review_notes``. A successful close resolves the
      linked incidents; an unsuccessful one (or a cancellation) gives them back to their team;
    - back to ``new`` and ``canceled`` need a ``note`` saying why."""
    close_code = str(close_code or "").strip()
    _check_request(state, close_code)
    change = lock_change(change)
    if state not in _table(change):
        raise TransitionNotAllowed(change.state, state, allowed_transitions(change))
    now = timezone.now()
    note, previous, data = clean_text(note), change.state, {}
    review_notes, close_notes = clean_text(review_notes), clean_text(close_notes)
    if state in (S.NEW, S.CANCELED) and not note:
        what = "sending it back" if state == S.NEW else "canceling it"
        raise ValidationError({"note": f"Say why before {what}."})
    if state == S.AUTHORIZE:
        errors = _required(change, tuple(AUTHORIZE_REQUIRES))
        if change.type == T.NORMAL:
            unanswered = _unanswered_questions(change)
            if unanswered:
                listed = "; ".join(question.text for question in unanswered)
                errors["risk_answers"] = f"Answer the risk questionnaire first ({len(unanswered)} left: {listed})."
        if errors:
            raise ValidationError(errors)
    elif state == S.SCHEDULED:
        if previous == S.AUTHORIZE and change.approved_at is None:
            stage = _approvals().current_stage(change)
            waiting = f"“{stage.name}”" if stage is not None else "no approval round is under way"
            raise Conflict(f"{change.number} awaits approval: {waiting}.")
        errors = _required(change, WINDOW_FIELDS)
        if errors:
            raise ValidationError(errors)
        if clean_text(emergency_justification):
            change.emergency_justification = clean_text(emergency_justification)
        windows, allowed = _blackouts(change)
        if windows and not allowed:
            raise Conflict(_blackout_message(change, windows))
        data = _blackout_data(change, windows)
    elif state == S.IMPLEMENT:
        change.actual_start = now
    elif state == S.REVIEW:
        code = close_code or change.close_code
        _close_code_required(code, "the review")
        change.close_code, change.actual_end = code, now
        change.close_notes = close_notes or change.close_notes
        change.review_notes = review_notes or change.review_notes
        data = {"close_code": code}
    elif state == S.CLOSED:
        code = close_code or change.close_code
        _close_code_required(code, "closing")
        if previous == S.IMPLEMENT and review_required(change.type, code):
            why = "an emergency change" if change.type == T.EMERGENCY else f"it was {CloseCode(code).label.lower()}"
            raise Conflict(f"{change.number} needs a post-implementation review ({why}): move it to review first.")
        review_notes = review_notes or change.review_notes
        if previous == S.REVIEW and review_required(change.type, code) and not review_notes:
            raise ValidationError({"review_notes": "Write the post-implementation review before closing."})
        change.close_code, change.review_notes, change.closed_at = code, review_notes, now
        change.close_notes = close_notes or change.close_notes
        change.actual_end = change.actual_end or now
        data = {"close_code": code}
    elif state == S.CANCELED:
        change.closed_at = now
    if state in (S.NEW, S.CANCELED) and change.approval_round:
        _approvals().close_round(change)
    if state == S.NEW:
        change.approved_at = None  # sent back: the next request for approval starts a new round
    _move(change, state, user=user, note=note, at=now, data=data)
    if state == S.AUTHORIZE and _approvals().start_round(change, user=user, at=now):
        enter_scheduled(change, user=user, at=now)
    if state in (S.CLOSED, S.CANCELED):
        release_incidents(change, user=user, successful=state == S.CLOSED and change.close_code in SUCCESS_CODES)
    return change


def _move(change, state, *, user, note, at, data=None):
    """Save the locked ``change`` in ``state``: a state line, the requester and assignee told."""
    previous = change.state
    change.state = state
    change.save()
    data = {"from": previous, "to": state, **(data or {})}
    record(change, ChangeTimelineKind.STATE, user=user, body=note, data=data, time=at)
    label = S(state).label.lower()
    notify_about(
        "change.state_changed",
        change,
        requester_and_assignee(change),
        user=user,
        title=f"{change.number} {'moved to ' if state in (S.ASSESS, S.AUTHORIZE) else ''}{label}: {change.title}",
        body=note,
        data={"from": previous, "to": state},
    )


@transaction.atomic
def enter_scheduled(change, *, user, at=None):
    """Move an approved change from ``authorize`` to ``scheduled`` (``approvals.decide`` calls
    this after the last approval, with the change locked, and saves nothing after it). Returns
    False, leaving the change in ``authorize`` with a ``system`` line saying why, when it has no
    planned window or a blackout window blocks it: it is scheduled by hand once that is fixed."""
    at = at or timezone.now()
    if change.state != S.AUTHORIZE:
        return False
    missing = _required(change, WINDOW_FIELDS)
    windows, allowed = _blackouts(change) if not missing else ([], True)
    if missing or (windows and not allowed):
        why = "it has no planned window" if missing else _blackout_message(change, windows)
        record(
            change,
            ChangeTimelineKind.SYSTEM,
            user=user,
            body=f"Approved, but not scheduled: {why}",
            data={"blackouts": [window.pk for window in windows], "missing": sorted(missing)},
            time=at,
        )
        return False
    _move(change, S.SCHEDULED, user=user, note="Approved: scheduled.", at=at, data=_blackout_data(change, windows))
    return True


def _blackouts(change):
    """``(windows, allowed)``: the blackout windows the planned window falls in, and whether the
    change may go ahead anyway (an emergency with a written justification)."""
    from changes import conflicts

    windows = conflicts.blocking_blackouts(change)
    allowed = not windows or (change.type == T.EMERGENCY and bool(clean_text(change.emergency_justification)))
    return windows, allowed


def _blackout_label(window):
    from changes import conflicts

    return conflicts.window_label(window)


def _blackout_message(change, windows):
    listed = ", ".join(_blackout_label(window) for window in windows)
    plural = "blackout windows" if len(windows) > 1 else "blackout window"
    if change.type == T.EMERGENCY:
        how = "Write the emergency justification to schedule it anyway, or move the planned window."
    else:
        how = "Move the planned window: only an emergency change with a written justification may go ahead in one."
    return f"{change.number}'s planned window falls in the {plural} {listed}. {how}"


def _blackout_data(change, windows):
    if not windows:
        return {}
    return {
        "blackouts": [{"id": window.pk, "name": window.name} for window in windows],
        "emergency_justification": change.emergency_justification,
    }


# --- notes and risk ---------------------------------------------------------------------------


@transaction.atomic
def add_note(change, *, user, body):
    """A work note on the change's timeline (closed changes take notes too)."""
    body = clean_text(body)
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > MAX_NOTE_LENGTH:
        raise ValidationError({"body": f"At most {MAX_NOTE_LENGTH} characters ({len(body)} given)."})
    change = lock_change(change)
    now = timezone.now()
    entry = record(change, ChangeTimelineKind.NOTE, user=user, body=body, time=now)
    ChangeRequest.objects.filter(pk=change.pk).update(updated_at=now)  # activity, not an audited change
    return entry


def _check_risk_editable(change, what):
    if change.state not in RISK_EDITABLE_STATES:
        state = change.get_state_display().lower()
        raise Conflict(f"{change.number} is {state}: {what} only while the change is new or in assess.")


@transaction.atomic
def set_risk_answers(change, *, user, option_ids):
    """Answer the risk questionnaire (one option per active question; the set replaces the
    previous answers) and reassess the risk. Only while the change is new or in assess."""
    options = risk_options(option_ids)
    change = lock_change(change)
    _check_risk_editable(change, "the risk questionnaire is answered")
    before = (change.risk_score, change.risk_level)
    change.risk_answers.set(options)
    assessment = risk.apply(change)
    asked = RiskQuestion.objects.filter(active=True).count()
    record(
        change,
        ChangeTimelineKind.RISK,
        user=user,
        body=f"Risk questionnaire answered ({len(options)} of {asked} questions): "
        f"{RiskLevel(assessment.level).label.lower()}, score {assessment.score}.",
        data={
            "answers": [option.pk for option in options],
            "from": before[0],
            "to": assessment.score,
            "from_level": before[1],
            "to_level": assessment.level,
        },
    )
    return change


@transaction.atomic
def override_risk(change, *, user, level, reason):
    """A manager sets the level that counts (``effective_risk``) with a reason, or clears the
    override (``level=""``). Only while the change is new or in assess: the level decides the
    approval policy."""
    if user is None or not is_manager(user):
        raise PermissionDenied("Only managers may override a change's risk.")
    level, reason = str(level or "").strip(), clean_text(reason)
    if level and level not in RiskLevel.values:
        raise ValidationError({"level": f"Unknown risk level {level!r}: one of {', '.join(RiskLevel.values)}."})
    if level and not reason:
        raise ValidationError({"reason": "Say why the computed risk is overridden."})
    change = lock_change(change)
    _check_risk_editable(change, "the risk is overridden")
    previous = change.risk_override
    if not level and not previous:
        return change
    change.risk_override = level
    change.risk_override_reason = reason if level else ""
    change.risk_overridden_by = user if level else None
    change.save()
    computed = RiskLevel(change.risk_level).label.lower()
    if level:
        body = f"Risk overridden: {RiskLevel(level).label.lower()} (computed: {computed}). Reason: {reason}"
    else:
        body = f"Risk override removed: the computed level ({computed}) counts again." + (
            f" Reason: {reason}" if reason else ""
        )
    record(
        change,
        ChangeTimelineKind.RISK,
        user=user,
        body=body,
        data={"override": level, "previous_override": previous, "computed": change.risk_level, "reason": reason},
    )
    return change
