"""Every state change and multi-step operation of an incident (DESIGN.md §7).

The UI, the API, the admin, Celery tasks and tests all call these functions. Each runs in one
transaction with the incident row locked (``SELECT … FOR UPDATE``) and its state re-read, so
two people acting at once are serialised: the second sees the first one's result (and gets a
409 when the move is no longer allowed). After every change the SLA clocks are brought in line
(``slas.services.sync_clocks``) and the people concerned are notified
(``itom.notifications.notify``, delivered by Celery after the transaction commits).

Bad input raises Django's ``ValidationError`` naming the field (a 400 in the API, a form error
in the UI); a move the transition table refuses raises ``TransitionNotAllowed`` (409, with the
allowed states); any other write the incident's state forbids raises ``Conflict`` (409).
Nothing is written when either is raised.

``user`` is the person acting, or None for the system and tasks (the timeline and the audit
trail then name the task).
"""

import mimetypes
import os
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.assignment import assignment_line, check_assignment, in_team, username
from cmdb.models import CI
from cmdb.selectors import affected_ci_ids
from incidents.choices import (
    DEFAULT_PRIORITY_MATRIX,
    INCIDENT_TRANSITIONS,
    OPEN_STATES,
    HoldReason,
    Impact,
    IncidentState,
    ResolutionCode,
    Source,
    TimelineKind,
    Urgency,
)
from incidents.models import Attachment, Incident, PriorityRule, TimelineEntry
from incidents.notifications import followers, notify_about, team_members
from incidents.selectors import suggested_known_errors  # noqa: F401 (part of this module's interface)
from incidents.timeline import record
from itom.api.exceptions import Conflict, TransitionNotAllowed

S = IncidentState
UNSET = object()  # "leave as it is" for ``assign``'s team and assignee

# States in which an incident may no longer be edited (only its watchers change).
FINAL_STATES = (S.CLOSED, S.CANCELED)
# Fields ``update_incident`` changes directly; the assignment, affected CIs, watchers and the
# parent go through their own steps.
PLAIN_FIELDS = ("title", "description", "impact", "urgency", "category", "caller", "caller_contact")
UPDATABLE_FIELDS = (*PLAIN_FIELDS, "assignment_team", "assignee", "affected_cis", "watchers", "parent")
MAX_COMMENT_LENGTH = 20_000
MAX_BULK = 500


@dataclass
class BulkResult:
    """What a bulk action did: the ids it changed, and why each other id was left alone."""

    done: list = field(default_factory=list)
    errors: dict = field(default_factory=dict)  # {incident id: message}


# --- priority ---------------------------------------------------------------------------------


def _level(name, value, choices):
    """``value`` as one of ``choices``' integers, or a ValidationError naming ``name``."""
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number not in choices.values:
        allowed = ", ".join(label for _, label in choices.choices)
        raise ValidationError({name: f"{name.capitalize()} must be one of {allowed}; got {value!r}."})
    return number


def priority_for(impact, urgency):
    """The priority (1–5) the matrix gives ``impact`` × ``urgency`` (each 1 high … 3 low).

    The matrix is data (``PriorityRule``, edited by managers in the admin); a cell a manager
    removed falls back to the ITIL default. Raises ValidationError naming a bad impact or urgency."""
    errors = {}
    try:
        impact = _level("impact", impact, Impact)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        urgency = _level("urgency", urgency, Urgency)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    rule = PriorityRule.objects.filter(impact=impact, urgency=urgency).values_list("priority", flat=True).first()
    return rule if rule is not None else DEFAULT_PRIORITY_MATRIX[(impact, urgency)]


# --- helpers ----------------------------------------------------------------------------------


def _lock(incident):
    """The incident's row, locked until the transaction ends, as it is now in the database."""
    pk = incident.pk if isinstance(incident, Incident) else incident
    try:
        return Incident.objects.select_for_update().get(pk=pk)
    except Incident.DoesNotExist:
        raise ValidationError({"incident": f"Incident {pk} does not exist."}) from None


def _merge(errors, exc):
    for name, messages in exc.message_dict.items():
        errors.setdefault(name, []).extend(messages)


def _check_assignment(team, assignee):
    """``(team, assignee)`` after checking the assignee may work the team's incidents."""
    return check_assignment(team, assignee, permission="incidents.change_incident", work="incidents")


def _check_category(category):
    if category is not None and not category.active:
        raise ValidationError({"category": f"The category {category.name} is retired: choose an active one."})


def _check_parent(parent, child=None):
    """Refuse a parent that is not an open major incident, or a child that can't be one."""
    if not parent.is_major:
        raise ValidationError({"parent": f"{parent.number} is not a major incident: promote it first."})
    if parent.state not in OPEN_STATES:
        raise ValidationError({"parent": f"{parent.number} is {parent.get_state_display().lower()}."})
    if child is not None:
        if child.pk == parent.pk:
            raise ValidationError({"parent": "An incident cannot be its own parent."})
        if child.is_major:
            raise ValidationError({"parent": f"{child.number} is a major incident itself and cannot be a child."})
        if child.state in FINAL_STATES:
            raise ValidationError({"parent": f"{child.number} is {child.get_state_display().lower()}."})


def _users(items, name):
    """Users from users or ids; unknown or inactive ones are a ValidationError naming ``name``."""
    items = list(items or ())
    ids = {item.pk if hasattr(item, "pk") else item for item in items}
    try:
        ids = {int(pk) for pk in ids}
    except (TypeError, ValueError):
        raise ValidationError({name: "Give users (or their ids)."}) from None
    found = list(get_user_model()._default_manager.filter(pk__in=ids, is_active=True))
    missing = ids - {user.pk for user in found}
    if missing:
        raise ValidationError({name: f"Unknown or inactive users: {', '.join(map(str, sorted(missing)))}."})
    return found


def _ci_ids(items):
    items = list(items or ())
    try:
        ids = {int(item.pk if hasattr(item, "pk") else item) for item in items}
    except (TypeError, ValueError):
        raise ValidationError({"affected_cis": "Give CIs (or their ids)."}) from None
    found = set(CI.objects.filter(pk__in=ids).values_list("pk", flat=True))
    if ids - found:
        raise ValidationError({"affected_cis": f"Unknown CIs: {', '.join(map(str, sorted(ids - found)))}."})
    return sorted(ids)


def refresh_affected_services(incident):
    """Store the business services that depend on the incident's affected CIs (the CMDB's
    downstream walk, the CIs themselves included) in ``incident.affected_services``."""
    ci_ids = list(incident.affected_cis.values_list("pk", flat=True))
    reached = affected_ci_ids(ci_ids) if ci_ids else set()
    services = (
        list(CI.objects.filter(pk__in=reached, ci_class__is_business_service=True).values_list("pk", flat=True))
        if reached
        else []
    )
    incident.affected_services.set(services)
    return services


def _set_cis(incident, ci_ids):
    before = set(incident.affected_cis.values_list("pk", flat=True))
    if before == set(ci_ids):
        return False
    incident.affected_cis.set(ci_ids)
    refresh_affected_services(incident)
    return True


def _mark_responded(incident, at):
    """The first response: the first move out of ``new``, assignment to a person, or public
    comment by someone other than the caller. Returns True when this is it."""
    if incident.first_responded_at is None:
        incident.first_responded_at = at
        return True
    return False


# --- SLA clocks -------------------------------------------------------------------------------


def sla_subject(incident):
    """What the SLA policies match and what the clocks follow, for ``incident`` as it is now."""
    from slas.services import Subject

    class_ids = frozenset(incident.affected_cis.values_list("ci_class_id", flat=True))  # slas adds ancestors
    service_ids = frozenset(incident.affected_services.values_list("pk", flat=True)) if class_ids else frozenset()
    pause_reason = ""
    if incident.state == S.ON_HOLD:
        hold = HoldReason(incident.hold_reason).label.lower() if incident.hold_reason else "no reason given"
        pause_reason = f"On hold: {hold}"
    return Subject(
        priority=incident.priority,
        state=incident.state,
        team_id=incident.assignment_team_id,
        ci_class_ids=class_ids,
        business_service_ids=service_ids,
        responded=incident.first_responded_at is not None,
        done=incident.state in (S.RESOLVED, S.CLOSED),
        canceled=incident.state == S.CANCELED,
        pause_reason=pause_reason,
    )


def sync_sla(incident, at=None):
    """Bring the incident's SLA clocks in line with it (start, pause, resume, retarget, stop)."""
    from slas.services import sync_clocks

    return sync_clocks(incident, sla_subject(incident), at or timezone.now())


# --- creating and editing ---------------------------------------------------------------------


@transaction.atomic
def create_incident(
    *,
    user,
    source=Source.MANUAL,
    title,
    description="",
    impact=Impact.LOW,
    urgency=Urgency.LOW,
    category=None,
    caller=None,
    caller_contact="",
    assignment_team=None,
    assignee=None,
    affected_cis=(),
    watchers=(),
    parent=None,
    alert_fingerprint="",
):
    """Open an incident: priority from the matrix, affected business services from the CMDB,
    SLA clocks started, a first timeline line, the team (or assignee) and watchers notified."""
    errors = {}
    priority = None
    try:
        priority = priority_for(impact, urgency)
    except ValidationError as exc:
        _merge(errors, exc)
    try:
        assignment_team, assignee = _check_assignment(assignment_team, assignee)
    except ValidationError as exc:
        _merge(errors, exc)
    for check in (lambda: _check_category(category), lambda: parent is not None and _check_parent(parent)):
        try:
            check()
        except ValidationError as exc:
            _merge(errors, exc)
    try:
        ci_ids = _ci_ids(affected_cis)
    except ValidationError as exc:
        ci_ids = []
        _merge(errors, exc)
    try:
        watcher_users = _users(watchers, "watchers")
    except ValidationError as exc:
        watcher_users = []
        _merge(errors, exc)
    if source not in Source.values:
        errors.setdefault("source", []).append(f"Unknown source {source!r}: one of {', '.join(Source.values)}.")
    now = timezone.now()
    incident = Incident(
        title=(title or "").strip(),
        description=description or "",
        impact=impact if "impact" in errors else int(impact),
        urgency=urgency if "urgency" in errors else int(urgency),
        priority=priority or 5,
        category=category,
        caller=caller,
        caller_contact=(caller_contact or "").strip(),
        assignment_team=assignment_team,
        assignee=assignee,
        source=source,
        parent=parent,
        alert_fingerprint=alert_fingerprint,
        opened_by=user if user is not None and user.is_authenticated else None,
        first_responded_at=now if assignee is not None and user is not None else None,
    )
    try:
        incident.full_clean(exclude=["number", *errors])
    except ValidationError as exc:
        _merge(errors, exc)
    if errors:
        raise ValidationError(errors)
    incident.save()
    if ci_ids:
        _set_cis(incident, ci_ids)
    if watcher_users:
        incident.watchers.set(watcher_users)
    record(
        incident,
        TimelineKind.STATE,
        user=user,
        public=True,
        body=f"Opened ({incident.get_source_display()}), priority {incident.get_priority_display()}.",
        data={"from": None, "to": S.NEW, "priority": incident.priority},
        time=now,
    )
    if assignment_team is not None:
        line = assignment_line(None, None, assignment_team, assignee)
        record(incident, TimelineKind.ASSIGNMENT, user=user, time=now, **line)
    if parent is not None:
        _record_link(Incident.objects.select_for_update().get(pk=parent.pk), incident, user, linked=True)
    sync_sla(incident, now)
    notify_about(
        "incident.created",
        incident,
        [*team_members(incident.assignment_team_id), incident.assignee, *watcher_users],
        user=user,
        title=f"{incident.number} opened: {incident.title}",
        body=f"Priority {incident.get_priority_display()}. {incident.description[:500]}".strip(),
    )
    if assignee is not None:
        _notify_assigned(incident, user, assignee_changed=True, team_changed=False)
    return incident


@transaction.atomic
def update_incident(incident, *, user, **fields):
    """Change plain fields (``title``, ``description``, ``impact``, ``urgency`` — the priority is
    recomputed —, ``category``, ``caller``, ``caller_contact``), ``affected_cis`` (the business
    services follow), ``watchers``, the assignment (``assignment_team``, ``assignee``: see
    ``assign``) or the ``parent`` major incident (None unlinks). The state changes only through
    ``transition``. A closed or canceled incident only takes new watchers."""
    refused = sorted(set(fields) - set(UPDATABLE_FIELDS))
    if refused:
        raise ValidationError(
            {
                name: "Change the state with a transition."
                if name == "state"
                else "This field cannot be changed (it is kept by the system)."
                for name in refused
            }
        )
    incident = _lock(incident)
    if incident.state in FINAL_STATES and set(fields) - {"watchers"}:
        raise Conflict(f"{incident.number} is {incident.get_state_display().lower()}: it can no longer be edited.")
    assignment = {
        key: fields.pop(name) for name, key in (("assignment_team", "team"), ("assignee", "assignee")) if name in fields
    }
    cis = fields.pop("affected_cis", None)
    watchers = fields.pop("watchers", None)
    parent = fields.pop("parent", UNSET)

    errors = {}
    old_priority = incident.priority
    changed = []
    for name, value in fields.items():
        if name in ("title", "caller_contact") and isinstance(value, str):
            value = value.strip()
        if name == "description" and value is None:
            value = ""
        if getattr(incident, name) != value:
            setattr(incident, name, value)
            changed.append(name)
    if "impact" in changed or "urgency" in changed:
        try:
            incident.priority = priority_for(incident.impact, incident.urgency)
            incident.impact, incident.urgency = int(incident.impact), int(incident.urgency)
        except ValidationError as exc:
            _merge(errors, exc)
    if "category" in changed:
        try:
            _check_category(incident.category)
        except ValidationError as exc:
            _merge(errors, exc)
    ci_ids = watcher_users = None
    try:
        ci_ids = _ci_ids(cis) if cis is not None else None
    except ValidationError as exc:
        _merge(errors, exc)
    try:
        watcher_users = _users(watchers, "watchers") if watchers is not None else None
    except ValidationError as exc:
        _merge(errors, exc)
    try:
        incident.full_clean(exclude=["number", *errors])
    except ValidationError as exc:
        _merge(errors, exc)
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    if changed or incident.priority != old_priority:
        incident.save()
    if incident.priority != old_priority:
        record(
            incident,
            TimelineKind.PRIORITY,
            user=user,
            public=True,
            body=f"Priority {old_priority} → {incident.priority} (impact {incident.impact}, "
            f"urgency {incident.urgency}).",
            data={"from": old_priority, "to": incident.priority},
            time=now,
        )
    cis_changed = ci_ids is not None and _set_cis(incident, ci_ids)
    if watcher_users is not None:
        incident.watchers.set(watcher_users)
    if assignment:
        incident = assign(incident, user=user, **assignment)
    if parent is not UNSET:
        if parent is None:
            if incident.parent_id is not None:
                unlink_child(incident, user=user)
        elif parent.pk != incident.parent_id:
            link_child(parent, incident, user=user)
        incident = Incident.objects.get(pk=incident.pk)
    if incident.priority != old_priority or cis_changed:
        sync_sla(incident, now)
    return incident


def _notify_assigned(incident, user, *, assignee_changed, team_changed):
    if assignee_changed and incident.assignee_id:
        recipients = [incident.assignee]
        title = f"{incident.number} assigned to you: {incident.title}"
    elif team_changed and incident.assignment_team_id:
        recipients = team_members(incident.assignment_team_id)
        title = f"{incident.number} assigned to {incident.assignment_team.name}: {incident.title}"
    else:
        return
    notify_about(
        "incident.assigned",
        incident,
        recipients,
        user=user,
        title=title,
        body=f"Priority {incident.get_priority_display()}.",
    )


@transaction.atomic
def assign(incident, *, user, team=UNSET, assignee=UNSET):
    """Assign the incident to a team and/or a person. The assignee must be a member of the
    (new) team; moving to another team drops an assignee who is not in it. A closed or canceled
    incident can't be reassigned (409)."""
    incident = _lock(incident)
    if incident.state in FINAL_STATES:
        raise Conflict(f"{incident.number} is {incident.get_state_display().lower()}: it can't be reassigned.")
    old_team, old_assignee = incident.assignment_team, incident.assignee
    new_team = old_team if team is UNSET else team
    new_assignee = old_assignee if assignee is UNSET else assignee
    moved_away = team is not UNSET and assignee is UNSET and new_assignee is not None
    if moved_away and not in_team(new_team, new_assignee):
        new_assignee = None  # moved to a team the current assignee is not in
    if assignee is not UNSET or new_assignee != old_assignee:
        new_team, new_assignee = _check_assignment(new_team, new_assignee)
    team_changed = new_team != old_team
    assignee_changed = new_assignee != old_assignee
    if not team_changed and not assignee_changed:
        return incident
    now = timezone.now()
    incident.assignment_team, incident.assignee = new_team, new_assignee
    if new_assignee is not None and user is not None and incident.state in OPEN_STATES:
        _mark_responded(incident, now)
    incident.save()
    line = assignment_line(old_team, old_assignee, new_team, new_assignee)
    record(incident, TimelineKind.ASSIGNMENT, user=user, time=now, **line)
    sync_sla(incident, now)
    _notify_assigned(incident, user, assignee_changed=assignee_changed, team_changed=team_changed)
    return incident


# --- the state machine ------------------------------------------------------------------------


def allowed_transitions(incident):
    """The states ``incident`` may move to next (the table in ``incidents.choices``)."""
    return [str(state) for state in INCIDENT_TRANSITIONS[S(incident.state)]]


def _check_transition(state, note, hold_reason, resolution_code):
    """Field errors of a transition request, before any row is read (the same for every incident)."""
    if state not in S.values:
        raise ValidationError({"state": f"Unknown state {state!r}: one of {', '.join(S.values)}."})
    errors = {}
    if state == S.ON_HOLD and hold_reason not in HoldReason.values:
        reasons = ", ".join(HoldReason.values)
        errors["hold_reason"] = (
            f"Unknown hold reason {hold_reason!r}: one of {reasons}."
            if hold_reason
            else f"Putting an incident on hold needs a reason: one of {reasons}."
        )
    if state == S.RESOLVED:
        if resolution_code not in ResolutionCode.values:
            codes = ", ".join(ResolutionCode.values)
            errors["resolution_code"] = (
                f"Unknown resolution code {resolution_code!r}: one of {codes}."
                if resolution_code
                else f"Resolving needs a resolution code: one of {codes}."
            )
        if not (note or "").strip():
            errors["note"] = "Resolving needs resolution notes: what was done to restore the service."
    if errors:
        raise ValidationError(errors)


def _apply_transition(incident, state, *, user, note, hold_reason, resolution_code, at):
    """Move a locked incident whose request ``_check_transition`` passed."""
    allowed = allowed_transitions(incident)
    if state not in allowed:
        raise TransitionNotAllowed(incident.state, state, allowed)
    previous = incident.state
    note = (note or "").strip()
    incident.state = state
    if previous == S.ON_HOLD:
        incident.hold_reason = ""
    if state == S.ON_HOLD:
        incident.hold_reason = hold_reason
    if state == S.RESOLVED:
        incident.resolution_code = resolution_code
        incident.resolution_notes = note
        incident.resolved_at = at
    if previous == S.RESOLVED and state == S.IN_PROGRESS:  # reopened
        incident.resolution_code, incident.resolution_notes, incident.resolved_at = "", "", None
    if state in (S.CLOSED, S.CANCELED):
        incident.closed_at = at
    if previous == S.NEW and user is not None:
        _mark_responded(incident, at)
    incident.save()
    data = {"from": previous, "to": state}
    if state == S.ON_HOLD:
        data["hold_reason"] = hold_reason
    if state == S.RESOLVED:
        data["resolution_code"] = resolution_code
    reopened = previous == S.RESOLVED and state == S.IN_PROGRESS
    record(
        incident,
        TimelineKind.STATE,
        user=user,
        public=True,
        body=note,
        data={**data, "reopened": True} if reopened else data,
        time=at,
    )
    sync_sla(incident, at)
    label = "reopened" if reopened else S(state).label.lower()
    if state == S.ON_HOLD:
        label += f" ({HoldReason(hold_reason).label.lower()})"
    notify_about(
        "incident.state_changed",
        incident,
        followers(incident),
        user=user,
        title=f"{incident.number} {label}: {incident.title}",
        body=note,
        data={"from": previous, "to": state},
    )
    return incident


@transaction.atomic
def transition(incident, state, *, user, note="", hold_reason="", resolution_code=""):
    """Move the incident to ``state`` along the transition table.

    ``on_hold`` needs ``hold_reason``; ``resolved`` needs ``resolution_code`` and ``note`` (the
    resolution notes); ``in_progress`` from ``resolved`` reopens it (the resolution is cleared).
    ``note`` is shown on the timeline. Unknown state or missing details: ValidationError (400);
    a move the table refuses: TransitionNotAllowed (409, with the allowed states)."""
    _check_transition(state, note, hold_reason, resolution_code)
    incident = _lock(incident)
    return _apply_transition(
        incident,
        state,
        user=user,
        note=note,
        hold_reason=hold_reason,
        resolution_code=resolution_code,
        at=timezone.now(),
    )


# --- timeline: comments, work notes, attachments ----------------------------------------------


@transaction.atomic
def add_comment(incident, *, user, body, public=True):
    """A public comment (the caller sees it) or, with ``public=False``, an internal work note.
    An agent's first public comment is the incident's first response."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something first."})
    if len(body) > MAX_COMMENT_LENGTH:
        raise ValidationError({"body": f"At most {MAX_COMMENT_LENGTH} characters ({len(body)} given)."})
    incident = _lock(incident)
    now = timezone.now()
    entry = record(
        incident,
        TimelineKind.COMMENT if public else TimelineKind.WORK_NOTE,
        user=user,
        body=body,
        public=public,
        time=now,
    )
    responded = (
        public
        and user is not None
        and incident.state in OPEN_STATES
        and user.pk != incident.caller_id
        and _mark_responded(incident, now)
    )
    if responded:
        incident.save()  # the first response: an audited change
        sync_sla(incident, now)
    else:
        Incident.objects.filter(pk=incident.pk).update(updated_at=now)  # activity, not an audited change
    recipients = followers(incident) if public else [incident.assignee, *incident.watchers.all()]
    kind = "commented on" if public else "work note on"
    notify_about(
        "incident.commented",
        incident,
        recipients,
        user=user,
        title=f"{username(user) or 'System'} {kind} {incident.number}: {incident.title}",
        body=body[:1000],
        data={"public": public},
    )
    return entry


def _clean_file_name(name):
    name = os.path.basename(str(name or "").replace("\\", "/"))
    name = "".join(ch for ch in unicodedata.normalize("NFC", name) if unicodedata.category(ch)[0] != "C")
    return name.strip().strip(".")[:200] or "attachment"


def attachment_type(name, declared):
    """The content type an upload is stored with, or a ValidationError when its declared type
    or its extension's type is not accepted (``ATTACHMENT_CONTENT_TYPES``)."""
    allowed = {t.lower() for t in settings.ATTACHMENT_CONTENT_TYPES}
    declared = (declared or "").split(";")[0].strip().lower()
    if declared in ("", "application/octet-stream"):
        declared = None
    guessed = mimetypes.guess_type(name, strict=False)[0]
    guessed = guessed.lower() if guessed else None
    seen = [t for t in (declared, guessed) if t]
    if not seen:
        raise ValidationError({"file": f"Can't tell what kind of file {name} is: give it a known extension."})
    refused = [t for t in seen if t not in allowed]
    if refused:
        raise ValidationError(
            {"file": f"Files of type {refused[0]} are not accepted. Accepted: {', '.join(sorted(allowed))}."}
        )
    return guessed or declared


def checked_upload(uploaded_file):
    """``(name, content_type, size)`` of an uploaded file within the attachment limits
    (``ATTACHMENT_MAX_MB``, ``ATTACHMENT_CONTENT_TYPES``), else a ``ValidationError`` on ``file``.
    Incident attachments and contract documents (``vendors``) share it."""
    if uploaded_file is None:
        raise ValidationError({"file": "Choose a file to attach."})
    name = _clean_file_name(getattr(uploaded_file, "name", ""))
    size = uploaded_file.size
    limit = settings.ATTACHMENT_MAX_MB * 1024 * 1024
    if not size:
        raise ValidationError({"file": f"{name} is empty."})
    if size > limit:
        raise ValidationError(
            {"file": f"{name} is {size / 1024 / 1024:.1f} MB; the limit is {settings.ATTACHMENT_MAX_MB} MB."}
        )
    return name, attachment_type(name, getattr(uploaded_file, "content_type", "")), size


@transaction.atomic
def add_attachment(incident, *, user, uploaded_file):
    """Attach a file (``ATTACHMENT_MAX_MB``, ``ATTACHMENT_CONTENT_TYPES``) with a timeline line."""
    name, content_type, size = checked_upload(uploaded_file)
    incident = _lock(incident)
    now = timezone.now()
    attachment = Attachment(
        incident=incident,
        name=name,
        content_type=content_type,
        size=size,
        uploaded_by=user if user is not None and user.is_authenticated else None,
    )
    attachment.file.save(name, uploaded_file, save=False)
    try:
        attachment.save()
        record(
            incident,
            TimelineKind.ATTACHMENT,
            user=user,
            body=name,
            data={"name": name, "size": size, "content_type": content_type},
            attachment=attachment,
            time=now,
        )
        Incident.objects.filter(pk=incident.pk).update(updated_at=now)
    except Exception:
        attachment.file.delete(save=False)  # no row refers to the stored file
        raise
    return attachment


# --- major incidents --------------------------------------------------------------------------


@transaction.atomic
def promote_major(incident, *, user):
    """Make an open incident a major incident, which other incidents can then be linked to."""
    incident = _lock(incident)
    if incident.is_major:
        raise Conflict(f"{incident.number} is already a major incident.")
    if incident.state not in OPEN_STATES:
        raise Conflict(
            f"{incident.number} is {incident.get_state_display().lower()}: only an open incident can be promoted."
        )
    if incident.parent_id is not None:
        raise Conflict(f"{incident.number} is a child of another major incident: unlink it first.")
    now = timezone.now()
    incident.is_major = True
    incident.save()
    record(incident, TimelineKind.MAJOR, user=user, public=True, body="Promoted to major incident.", time=now)
    notify_about(
        "incident.state_changed",
        incident,
        [*team_members(incident.assignment_team_id), *followers(incident)],
        user=user,
        title=f"{incident.number} is now a major incident: {incident.title}",
        data={"major": True},
    )
    return incident


def _lock_pair(first, second):
    """Lock two incidents in id order (so two callers locking the same pair can't deadlock)."""
    locked = Incident.objects.select_for_update().filter(pk__in=[first.pk, second.pk]).order_by("pk")
    rows = {row.pk: row for row in locked}
    if len(rows) != 2:
        raise ValidationError({"incident": "One of the two incidents no longer exists."})
    return rows[first.pk], rows[second.pk]


def _record_link(parent, child, user, *, linked):
    verb = "Linked" if linked else "Unlinked"
    record(
        parent,
        TimelineKind.LINK,
        user=user,
        body=f"{verb} child incident {child.number}.",
        data={"child": child.pk, "number": child.number, "linked": linked},
    )
    record(
        child,
        TimelineKind.LINK,
        user=user,
        body=f"{verb} {'to' if linked else 'from'} major incident {parent.number}.",
        data={"parent": parent.pk, "number": parent.number, "linked": linked},
    )


@transaction.atomic
def link_child(parent, child, *, user):
    """Make ``child`` part of the major incident ``parent``."""
    if parent.pk == child.pk:
        raise ValidationError({"parent": "An incident cannot be its own parent."})
    parent, child = _lock_pair(parent, child)
    _check_parent(parent, child)
    if child.parent_id == parent.pk:
        return child
    if child.parent_id is not None:
        raise Conflict(f"{child.number} is already part of another major incident: unlink it first.")
    child.parent = parent
    child.save()
    _record_link(parent, child, user, linked=True)
    return child


@transaction.atomic
def unlink_child(child, *, user):
    """Take ``child`` out of its major incident."""
    child = _lock(child)
    if child.parent_id is None:
        raise Conflict(f"{child.number} is not part of a major incident.")
    parent = Incident.objects.select_for_update().get(pk=child.parent_id)
    child.parent = None
    child.save()
    _record_link(parent, child, user, linked=False)
    return child


@transaction.atomic
def post_major_update(parent, *, user, body):
    """Post an update on a major incident; a copy reaches every child's timeline."""
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write the update first."})
    if len(body) > MAX_COMMENT_LENGTH:
        raise ValidationError({"body": f"At most {MAX_COMMENT_LENGTH} characters ({len(body)} given)."})
    parent = _lock(parent)
    if not parent.is_major:
        raise Conflict(f"{parent.number} is not a major incident.")
    now = timezone.now()
    entry = record(parent, TimelineKind.MAJOR, user=user, body=body, public=True, time=now)
    children = list(parent.children.select_related("caller", "opened_by", "assignee"))
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                incident=child,
                time=now,
                kind=TimelineKind.MAJOR,
                public=True,
                author=entry.author,
                author_name=entry.author_name,
                body=body,
                data={"parent": parent.pk, "number": parent.number},
                origin=entry,
            )
            for child in children
        ]
    )
    recipients = [*team_members(parent.assignment_team_id), *followers(parent)]
    for child in children:
        recipients += [child.caller, child.opened_by, child.assignee]
    notify_about(
        "incident.commented",
        parent,
        recipients,
        user=user,
        title=f"Update on major incident {parent.number}: {parent.title}",
        body=body[:1000],
        data={"public": True, "major_update": True, "children": len(children)},
    )
    return entry


@transaction.atomic
def resolve_children(parent, *, user, resolution_code, note):
    """Resolve every child of ``parent`` that may still be resolved; returns how many were."""
    _check_transition(S.RESOLVED, note, "", resolution_code)
    parent = _lock(parent)
    if not parent.is_major:
        raise Conflict(f"{parent.number} is not a major incident.")
    now = timezone.now()
    resolved = 0
    for child in Incident.objects.select_for_update().filter(parent=parent).order_by("pk"):
        if S.RESOLVED in allowed_transitions(child):
            _apply_transition(
                child,
                S.RESOLVED,
                user=user,
                note=note,
                hold_reason="",
                resolution_code=resolution_code,
                at=now,
            )
            resolved += 1
    if resolved:
        record(
            parent,
            TimelineKind.MAJOR,
            user=user,
            body=f"Resolved {resolved} child incident{'s' if resolved != 1 else ''}.",
            data={"resolved_children": resolved},
            time=now,
        )
    return resolved


# --- bulk actions -----------------------------------------------------------------------------


def _bulk_ids(incident_ids):
    try:
        ids = list(dict.fromkeys(int(pk) for pk in incident_ids))
    except (TypeError, ValueError):
        raise ValidationError({"ids": "Give a list of incident ids."}) from None
    if not ids:
        raise ValidationError({"ids": "Choose at least one incident."})
    if len(ids) > MAX_BULK:
        raise ValidationError({"ids": f"At most {MAX_BULK} incidents at a time ({len(ids)} given)."})
    return ids


def _bulk(ids, act):
    """Run ``act(incident)`` on each incident in a savepoint of its own: one refused incident
    leaves the others done and is reported with the reason."""
    result = BulkResult()
    found = Incident.objects.in_bulk(ids)
    for pk in ids:
        incident = found.get(pk)
        if incident is None:
            result.errors[pk] = "No such incident."
            continue
        try:
            with transaction.atomic():
                act(incident)
        except ValidationError as exc:
            result.errors[pk] = " ".join(exc.messages)
        except (TransitionNotAllowed, Conflict) as exc:
            result.errors[pk] = str(exc.detail)
        else:
            result.done.append(pk)
    return result


def bulk_assign(incident_ids, *, user, team, assignee=None):
    """Assign each incident to ``team`` (and ``assignee``, who must be in it; None leaves the
    incidents with no assignee)."""
    ids = _bulk_ids(incident_ids)
    if team is None and assignee is None:
        raise ValidationError({"assignment_team": "Choose a team (or an assignee)."})
    team, assignee = _check_assignment(team, assignee)
    return _bulk(ids, lambda incident: assign(incident, user=user, team=team, assignee=assignee))


def bulk_transition(incident_ids, state, *, user, note="", hold_reason="", resolution_code=""):
    """Move each incident to ``state``; incidents whose state does not allow it are reported."""
    ids = _bulk_ids(incident_ids)
    _check_transition(state, note, hold_reason, resolution_code)
    return _bulk(
        ids,
        lambda incident: transition(
            incident, state, user=user, note=note, hold_reason=hold_reason, resolution_code=resolution_code
        ),
    )


# --- housekeeping -----------------------------------------------------------------------------


def auto_close_resolved(now=None):
    """Close the incidents resolved more than ``INCIDENT_AUTO_CLOSE_DAYS`` days ago; returns how
    many were closed. Each closes in a transaction of its own; a row someone is editing right
    now is skipped (``SKIP LOCKED``) and closed by the next run."""
    now = now or timezone.now()
    days = settings.INCIDENT_AUTO_CLOSE_DAYS
    cutoff = now - timedelta(days=days)
    due = Incident.objects.filter(state=S.RESOLVED, resolved_at__lte=cutoff)
    closed = 0
    for pk in list(due.order_by("resolved_at", "pk").values_list("pk", flat=True)):
        with transaction.atomic():
            incident = due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if incident is None:  # reopened, closed or being edited meanwhile
                continue
            _apply_transition(
                incident,
                S.CLOSED,
                user=None,
                note=f"Closed automatically {days} day{'s' if days != 1 else ''} after it was resolved.",
                hold_reason="",
                resolution_code="",
                at=now,
            )
            closed += 1
    return closed
