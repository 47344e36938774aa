"""Alerts: one problem, however many times it is reported, and the incident it opens
(DESIGN.md §1: alert (fingerprint) ▸ ``incidents.open_from_alert``).

A problem is known by its **fingerprint** (``check:<id>`` for a check, ``am:<fingerprint>`` for
Alertmanager, ``rule:<id>:ci:<id>`` for a metric rule …). ``fire`` reports it: the fingerprint's
firing alert counts one more occurrence (``count`` for a storm reported at once), or a new alert
starts. At most one alert per fingerprint fires — a partial unique index; a writer that loses the
race to insert it re-reads the winner's row — and the alert row stays locked while its incident is
chosen, so a hundred workers reporting the same failure at once open one incident.

What a firing alert does, decided each time it fires until it has an incident of its own:

- its CI is **under maintenance** (a change being implemented, or a maintenance window:
  ``monitoring.selectors.maintenance_for``): it is ``suppressed`` by that change or window and
  opens no incident. A failure under a change is written on the change's timeline, and its
  implementer hears of it. ``maintenance.release_ended`` (every minute) or the alert's next
  report opens the incident once the maintenance is over — a change is then marked as the
  incident's likely cause;
- an **upstream CI is down** (``selectors.down_parents``): it is ``suppressed`` as ``parent``,
  points at the parent's alert and joins the parent's incident (a work note there says so);
  once the parent is no longer down, its next report opens an incident of its own;
- else it opens (or joins) the open incident of its fingerprint: impact from the CI's
  criticality, urgency from the severity (an ``info`` alert opens none), assigned to the CI's
  owner team, the CI affected, titled "[CI] name".

A flapping check's alert carries ``annotations["flapping"] = "true"``; its incident says so in its
description, or in a work note when the flapping starts later. ``resolve`` ends the alert and, once
none of its incident's own alerts fires any more, resolves the incident with a note — unless the
check keeps its incident open (``auto_resolve`` off) or a person has taken the incident over (then
a work note; a successful change that released the incident resolves it all the same).

New alerts and resolved ones send the ``alert.firing`` and ``alert.resolved`` notifications
(webhooks subscribed to them get every one; people only when no incident tells them: the CI's
owner team for an ``info`` alert, the implementer for a failure during their change).
"""

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from changes.choices import SUCCESS_CODES, ChangeState, ChangeTimelineKind
from changes.models import ChangeRequest
from cmdb.models import CI
from incidents.choices import OPEN_STATES as INCIDENT_OPEN_STATES
from incidents.models import Incident
from incidents.services import alerts as incident_alerts
from itom.notifications import notify
from monitoring import selectors
from monitoring.choices import (
    CRITICALITY_IMPACT,
    SEVERITY_URGENCY,
    AlertSource,
    AlertStatus,
    ResultStatus,
    Severity,
    Suppression,
)
from monitoring.models import Alert, MaintenanceWindow

logger = logging.getLogger(__name__)

UNSET = object()  # "find out": the maintenance or down parent of the alert's CI is looked up
# Most severe first.
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.MAJOR: 1, Severity.MINOR: 2, Severity.WARNING: 3, Severity.INFO: 4}
# The impact of an incident whose alert names no CI (nothing says how far it reaches).
UNKNOWN_IMPACT = 2
FINGERPRINT_MAX = Alert._meta.get_field("fingerprint").max_length
NAME_MAX = Alert._meta.get_field("name").max_length
SUMMARY_MAX = 10_000
MAX_COUNT = 1_000_000
FLAPPING = "flapping"


def check_fingerprint(check_id):
    """The fingerprint of a check's problems."""
    return f"check:{check_id}"


# --- input ---------------------------------------------------------------------------------------


def _text(value):
    """``value`` as text the database stores (PostgreSQL refuses NUL characters)."""
    return str(value if value is not None else "").replace("\x00", "")


def _json(value):
    """Labels or annotations with the NUL characters taken out of every key and string."""
    if isinstance(value, dict):
        return {_text(key): _json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json(item) for item in value]
    return _text(value) if isinstance(value, str) else value


def _cleaned(fingerprint, source, name, summary, severity, count, at, labels, annotations):
    errors = {}
    fingerprint = _text(fingerprint).strip()
    if not fingerprint:
        errors["fingerprint"] = "An alert needs a fingerprint."
    elif len(fingerprint) > FINGERPRINT_MAX:
        errors["fingerprint"] = f"At most {FINGERPRINT_MAX} characters ({len(fingerprint)} given)."
    if source not in AlertSource.values:
        errors["source"] = f"Unknown source {source!r}: one of {', '.join(AlertSource.values)}."
    name = " ".join(_text(name).split())
    if not name:
        errors["name"] = "An alert needs a name."
    if severity not in Severity.values:
        errors["severity"] = f"Unknown severity {severity!r}: one of {', '.join(Severity.values)}."
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        errors["count"] = f"A whole number from 1 to {MAX_COUNT}; got {count!r}."
    if at is not None and (not hasattr(at, "tzinfo") or timezone.is_naive(at)):
        errors["at"] = "A time with its time zone."
    for key, value in (("labels", labels), ("annotations", annotations)):
        if value is not None and not isinstance(value, dict):
            errors[key] = "An object of names to values."
    if errors:
        raise ValidationError(errors)
    return fingerprint, name[:NAME_MAX], _text(summary)[:SUMMARY_MAX]


def _pk(value):
    return getattr(value, "pk", value)


# --- fire ----------------------------------------------------------------------------------------


def _locked_firing(fingerprint):
    return (
        Alert.objects.select_for_update(of=("self",))
        .filter(fingerprint=fingerprint, status=AlertStatus.FIRING)
        .order_by()
        .first()
    )


def _firing_alert(fingerprint, new):
    """``(alert, created)``: the fingerprint's firing alert, locked, or ``new`` inserted. The
    insert runs in a savepoint: when another writer inserted the fingerprint's alert first, the
    partial unique index refuses ours (``IntegrityError``, once the winner committed) and the
    winner's row is read instead."""
    for _ in range(5):
        alert = _locked_firing(fingerprint)
        if alert is not None:
            return alert, False
        try:
            with transaction.atomic():
                new.save(force_insert=True)
            return new, True
        except IntegrityError:
            new.pk = None  # lost the race: read the winner's row (or, resolved meanwhile, try again)
            new._state.adding = True
    raise RuntimeError(f"could not insert or read the firing alert of {fingerprint!r}")


@transaction.atomic
def fire(
    fingerprint,
    *,
    source,
    name,
    summary="",
    severity,
    labels=None,
    annotations=None,
    ci=None,
    monitor=None,
    rule=None,
    integration=None,
    at=None,
    since=None,
    count=1,
    flapping=None,
    maintenance=UNSET,
    parent_alert_id=UNSET,
):
    """Report the problem ``fingerprint`` (``count`` times at ``at``, default now) and return its
    firing alert: occurrences added, ``last_seen`` moved on, severity and summary as reported now
    (labels replaced and annotations merged when given) — or a new alert. ``since``: when the
    sender says the problem started (Alertmanager's ``startsAt``), which ``first_seen`` keeps
    when it is earlier than ``at``. Then, unless the alert
    has an incident of its own: suppressed by maintenance, attached to a down parent's incident,
    or its incident opened (see the module's docstring). ``ci``, ``monitor``, ``rule`` and
    ``integration`` are objects or ids. ``flapping`` (a check's) marks or unmarks the alert.
    ``maintenance`` (``("change", id)``, ``("window", id)`` or None) and ``parent_alert_id`` (or
    None) are what the poller found for the whole batch; left out, they are looked up here.
    Bad input: ``ValidationError`` naming the field; nothing is written."""
    fingerprint, name, summary = _cleaned(fingerprint, source, name, summary, severity, count, at, labels, annotations)
    labels = _json(labels) if labels is not None else None
    annotations = _json(annotations) if annotations is not None else None
    at = at or timezone.now()
    new = Alert(
        fingerprint=fingerprint,
        source=source,
        name=name,
        summary=summary,
        severity=severity,
        labels=dict(labels or {}),
        annotations=dict(annotations or {}),
        ci_id=_pk(ci),
        monitor_id=_pk(monitor),
        rule_id=_pk(rule),
        integration_id=_pk(integration),
        first_seen=min(since, at) if since is not None else at,
        last_seen=at,
        occurrences=count,
    )
    alert, created = _firing_alert(fingerprint, new)
    if not created:
        _add_report(alert, new, summary=summary, labels=labels, annotations=annotations, count=count, at=at)
    for field, given in (("monitor", monitor), ("ci", ci)):
        if isinstance(given, Model) and getattr(alert, f"{field}_id") == given.pk:
            setattr(alert, field, given)  # the caller's copy: no query, and its runtime fields as they are now
    started_flapping = _mark_flapping(alert, flapping)
    had_incident, was_change = alert.incident_id, (alert.suppressed, alert.suppressed_by_change_id)
    _route(alert, maintenance=maintenance, parent_alert_id=parent_alert_id, at=at)
    if started_flapping and alert.incident_id and alert.incident_id == had_incident and not alert.suppressed:
        _flapping_note(alert)
    under_change = alert.suppressed == Suppression.CHANGE
    if under_change and was_change != (alert.suppressed, alert.suppressed_by_change_id):
        _record_on_change(alert)
    if created:
        _tell_about_firing(alert)
    return alert


def _add_report(alert, new, *, summary, labels, annotations, count, at):
    alert.occurrences += count
    alert.last_seen = max(alert.last_seen, at)
    alert.first_seen = min(alert.first_seen, new.first_seen)
    alert.severity = new.severity
    alert.name = new.name
    fields = ["occurrences", "last_seen", "first_seen", "severity", "name", "updated_at"]
    if summary:
        alert.summary = summary
        fields.append("summary")
    if labels is not None:
        alert.labels = dict(labels)
        fields.append("labels")
    if annotations:
        alert.annotations = {**alert.annotations, **annotations}
        fields.append("annotations")
    for field in ("ci_id", "monitor_id", "rule_id", "integration_id"):
        value = getattr(new, field)
        if value is not None and getattr(alert, field) != value:
            setattr(alert, field, value)
            fields.append(field)
    alert.save(update_fields=fields)


def _mark_flapping(alert, flapping):
    """Mark or unmark the alert as flapping; True when it starts flapping now."""
    if flapping is None:
        return False
    was = alert.annotations.get(FLAPPING) == "true"
    if bool(flapping) == was:
        return False
    if flapping:
        alert.annotations[FLAPPING] = "true"
    else:
        alert.annotations.pop(FLAPPING, None)
    alert.save(update_fields=["annotations", "updated_at"])
    return bool(flapping)


def _route(alert, *, maintenance, parent_alert_id, at):
    """Decide what the locked firing ``alert`` does (see the module's docstring)."""
    if alert.incident_id is not None and alert.suppressed == Suppression.NONE:
        return  # it has its incident: a repeated failure only adds to the alert
    if maintenance is UNSET:
        maintenance = selectors.maintenance_for([alert.ci_id], at).get(alert.ci_id) if alert.ci_id else None
    if maintenance:
        _suppress(alert, maintenance)
        return
    if parent_alert_id is UNSET:
        parent_alert_id = selectors.down_parents([alert.ci_id]).get(alert.ci_id) if alert.ci_id else None
    attached = alert.suppressed == Suppression.PARENT and alert.parent_id and parent_alert_id
    if attached and Alert.objects.filter(pk=alert.parent_id, status=AlertStatus.FIRING).exists():
        return  # still attached to its (still firing) parent
    if parent_alert_id and parent_alert_id != alert.pk and _attach_to_parent(alert, parent_alert_id):
        return
    _release(alert)


def _suppress(alert, maintenance):
    kind, pk = maintenance
    fields = {
        "suppressed": Suppression.CHANGE if kind == "change" else Suppression.WINDOW,
        "suppressed_by_change_id": pk if kind == "change" else None,
        "suppressed_by_window_id": pk if kind == "window" else None,
        "parent_id": None,
        "incident_id": None,  # a parent's incident it was attached to, if any
    }
    changed = [name for name, value in fields.items() if getattr(alert, name) != value]
    if changed:
        for name in changed:
            setattr(alert, name, fields[name])
        alert.save(update_fields=[*changed, "updated_at"])


def _attach_to_parent(alert, parent_alert_id):
    """Attach ``alert`` to its down parent's alert and incident; False when that alert no longer
    fires."""
    parent = Alert.objects.filter(pk=parent_alert_id, status=AlertStatus.FIRING).select_related("ci").first()
    if parent is None:
        return False
    newly = alert.parent_id != parent.pk or alert.incident_id != parent.incident_id
    alert.suppressed = Suppression.PARENT
    alert.parent_id = parent.pk
    alert.incident_id = parent.incident_id
    alert.suppressed_by_change_id = alert.suppressed_by_window_id = None
    alert.save(
        update_fields=[
            "suppressed",
            "parent_id",
            "incident_id",
            "suppressed_by_change_id",
            "suppressed_by_window_id",
            "updated_at",
        ]
    )
    if newly and parent.incident_id is not None:
        incident = Incident.objects.filter(pk=parent.incident_id, state__in=INCIDENT_OPEN_STATES).first()
        if incident is not None:
            where = _ci_name(alert)
            upstream = parent.ci.name if parent.ci_id else parent.name
            body = (
                f"Monitoring: {where}{alert.name} is failing too — unreachable while {upstream} is down. "
                f"Its alert is attached to this incident instead of opening its own."
            )
            if alert.summary:
                body += f"\n{alert.summary[:500]}"
            _work_note(incident, body)
    return True


def _release(alert):
    """``alert`` is neither under maintenance nor behind a down parent: clear its suppression and
    open (or join) its incident — an info alert opens none."""
    cause = None
    previously = alert.suppressed
    if previously == Suppression.CHANGE and alert.suppressed_by_change_id:
        cause = ChangeRequest.objects.filter(pk=alert.suppressed_by_change_id).first()
    window = None
    if previously == Suppression.WINDOW and alert.suppressed_by_window_id:
        window = MaintenanceWindow.objects.filter(pk=alert.suppressed_by_window_id).first()
    parent_incident = alert.incident_id if previously == Suppression.PARENT else None
    if previously or alert.parent_id:
        alert.suppressed = Suppression.NONE
        alert.parent_id = None
        alert.incident_id = None
        alert.save(update_fields=["suppressed", "parent_id", "incident_id", "updated_at"])
    if alert.severity == Severity.INFO:
        return
    _open_incident(alert, cause=cause, window=window, parent_incident_id=parent_incident)


def _ci_name(alert, suffix=": "):
    ci = alert.ci if alert.ci_id else None
    return f"{ci.name}{suffix}" if ci is not None else ""


def _description(alert, *, cause, window, parent_incident):
    lines = [alert.summary.strip()] if alert.summary.strip() else []
    ci = alert.ci if alert.ci_id else None
    if alert.monitor_id is not None and alert.monitor is not None:
        check = alert.monitor
        what = f"Check “{check.name}” ({check.get_kind_display()}"
        what += f" {check.target}" if check.target else ""
        what += f":{check.port}" if check.port else ""
        lines.append(f"{what}) on {ci.name if ci else 'its CI'} is {alert.get_severity_display().lower()}.")
    else:
        lines.append(f"Alert from {alert.get_source_display()}, severity {alert.get_severity_display().lower()}.")
    lines.append(f"Fingerprint: {alert.fingerprint}. First seen {alert.first_seen:%Y-%m-%d %H:%M:%S %Z}.")
    if alert.labels:
        shown = ", ".join(f"{key}={value}" for key, value in sorted(alert.labels.items())[:20])
        lines.append(f"Labels: {shown}.")
    if alert.annotations.get(FLAPPING) == "true":
        lines.append("The check is flapping (changing state often): this incident holds all its failures.")
    if cause is not None:
        lines.append(
            f"It started while change {cause.number} (“{cause.title}”) was being implemented and was still "
            f"failing when the change's maintenance ended: {cause.number} is marked as the likely cause."
        )
    if window is not None:
        lines.append(f"It started during the maintenance window “{window.name}” and was still failing when it ended.")
    if parent_incident is not None:
        lines.append(f"Until now it was attached to {parent_incident.number}, while an upstream CI was down.")
    return "\n\n".join(lines)


def _open_incident(alert, *, cause=None, window=None, parent_incident_id=None):
    ci = CI.objects.select_related("owner_team").filter(pk=alert.ci_id).first() if alert.ci_id else None
    parent_incident = Incident.objects.filter(pk=parent_incident_id).first() if parent_incident_id else None
    incident, created = incident_alerts.open_from_alert(
        fingerprint=alert.fingerprint,
        title=f"[{ci.name}] {alert.name}" if ci is not None else alert.name,
        description=_description(alert, cause=cause, window=window, parent_incident=parent_incident),
        impact=CRITICALITY_IMPACT.get(ci.criticality, UNKNOWN_IMPACT) if ci is not None else UNKNOWN_IMPACT,
        urgency=SEVERITY_URGENCY[alert.severity],
        affected_cis=[ci.pk] if ci is not None else (),
        assignment_team=ci.owner_team if ci is not None else None,
    )
    alert.incident = incident
    alert.save(update_fields=["incident", "updated_at"])
    if not created:
        body = f"Monitoring: the problem is back — {_ci_name(alert)}{alert.name}."
        if alert.summary:
            body += f"\n{alert.summary[:500]}"
        _work_note(incident, body)
    if cause is not None:
        from changes.services.changes import mark_cause

        mark_cause(cause, incident, user=None)
    # Alerts of downstream CIs waiting for this one's incident (it was suppressed itself) join it.
    Alert.objects.filter(
        parent=alert, status=AlertStatus.FIRING, suppressed=Suppression.PARENT, incident__isnull=True
    ).update(incident=incident, updated_at=timezone.now())
    return incident


def _work_note(incident, body):
    from incidents.services.incidents import add_comment

    add_comment(incident, user=None, public=False, body=body)


def _flapping_note(alert):
    incident = Incident.objects.filter(pk=alert.incident_id, state__in=INCIDENT_OPEN_STATES).first()
    if incident is None:
        return
    percent = ""
    if alert.monitor_id is not None and alert.monitor is not None and alert.monitor.flap_percent:
        percent = f" ({alert.monitor.flap_percent:.0f} % state changes)"
    _work_note(
        incident,
        f"Monitoring: {_ci_name(alert)}{alert.name} is flapping{percent}. This incident holds its failures; "
        "it resolves once the check is stable and up again.",
    )


# --- notifications -------------------------------------------------------------------------------


def _recipients(alert):
    """Who is told about a new alert besides the webhooks: nobody when an incident tells them."""
    from incidents.notifications import team_members

    if alert.suppressed == Suppression.CHANGE and alert.suppressed_by_change_id:
        change = ChangeRequest.objects.filter(pk=alert.suppressed_by_change_id).first()
        if change is not None:
            return [change.assignee_id or change.requester_id]
    if alert.suppressed == Suppression.NONE and alert.incident_id is None and alert.ci_id:
        team_id = CI.objects.filter(pk=alert.ci_id).values_list("owner_team_id", flat=True).first()
        return team_members(team_id)
    return []


def _payload(alert):
    return {
        "alert": alert.pk,
        "fingerprint": alert.fingerprint,
        "status": alert.status,
        "severity": alert.severity,
        "source": alert.source,
        "ci": alert.ci_id,
        "check": alert.monitor_id,
        "incident": alert.incident_id,
        "suppressed": alert.suppressed,
        "occurrences": alert.occurrences,
        "labels": alert.labels,
    }


def _record_on_change(alert):
    """A failure during a change's implementation, on the change's timeline."""
    change = ChangeRequest.objects.filter(pk=alert.suppressed_by_change_id).first()
    if change is None:
        return
    from changes.timeline import record

    body = f"Monitoring: {_ci_name(alert)}{alert.name} is failing during the implementation (no incident is "
    body += "opened while the change is implemented; one opens if it still fails when the change leaves implement)."
    if alert.summary:
        body += f"\n{alert.summary[:300]}"
    record(change, ChangeTimelineKind.SYSTEM, body=body, data={"alert": alert.pk, "fingerprint": alert.fingerprint})


def _tell_about_firing(alert):
    notify(
        "alert.firing",
        alert,
        recipients=_recipients(alert),
        title=f"Alert firing: {_ci_name(alert)}{alert.name}",
        body=alert.summary[:1000],
        data=_payload(alert),
    )


# --- resolve -------------------------------------------------------------------------------------


def resolve(fingerprint, *, at=None, note="", keep_incident=False):
    """End the firing alert of ``fingerprint`` (at ``at``, default now) and return it, or None
    when none fires (one query). Its incident resolves with a note once none of its own alerts
    fires (see the module's docstring); an alert attached to a parent's incident leaves it be.
    ``keep_incident``: the alert ends without a recovery (its check stopped watching), so its
    incident only gets ``note`` as a work note."""
    found = Alert.objects.filter(fingerprint=fingerprint, status=AlertStatus.FIRING).values_list("pk", flat=True)
    pk = found.first()
    if pk is None:
        return None
    return _resolve(pk, at=at or timezone.now(), note=note, keep_incident=keep_incident)


@transaction.atomic
def _resolve(pk, *, at, note, keep_incident=False):
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .filter(pk=pk, status=AlertStatus.FIRING)
        .select_related("monitor")
        .first()
    )
    if alert is None:
        return None  # resolved meanwhile
    alert.status = AlertStatus.RESOLVED
    alert.resolved_at = max(at, alert.first_seen)
    alert.save(update_fields=["status", "resolved_at", "updated_at"])
    if alert.incident_id is not None and alert.suppressed != Suppression.PARENT:
        if keep_incident:
            incident = Incident.objects.filter(pk=alert.incident_id, state__in=INCIDENT_OPEN_STATES).first()
            if incident is not None:
                _work_note(incident, f"Monitoring: {_ci_name(alert)}{alert.name}: {note.strip()}")
        else:
            _after_recovery(alert, note)
    notify(
        "alert.resolved",
        alert,
        recipients=_recipients(alert) if alert.severity == Severity.INFO else (),
        title=f"Alert resolved: {_ci_name(alert)}{alert.name}",
        body=note,
        data=_payload(alert),
    )
    return alert


def _after_recovery(alert, note):
    incident = Incident.objects.filter(pk=alert.incident_id, state__in=INCIDENT_OPEN_STATES).first()
    if incident is None:
        return
    text = f"Monitoring: {_ci_name(alert)}{alert.name} recovered"
    text += f" after {alert.occurrences} failure report{'s' if alert.occurrences != 1 else ''}."
    if note:
        text += f" {note.strip()}"
    still = (
        Alert.objects.filter(incident_id=incident.pk, status=AlertStatus.FIRING)
        .exclude(suppressed=Suppression.PARENT)
        .count()
    )
    if still:
        _work_note(incident, f"{text} Still firing: {still} other alert{'s' if still != 1 else ''}.")
        return
    if alert.monitor is not None and not alert.monitor.auto_resolve:
        _work_note(incident, f"{text} Left open: the check does not resolve its incident by itself.")
        return
    released = incident.changes.filter(state=ChangeState.CLOSED, close_code__in=SUCCESS_CODES).exists()
    incident_alerts.resolve_from_alert(incident, note=text, even_if_assigned=released)


# --- the poller's calls --------------------------------------------------------------------------


def _severity_of(check, status):
    severity = check.severity
    if status == ResultStatus.WARNING and SEVERITY_RANK[Severity(severity)] < SEVERITY_RANK[Severity.WARNING]:
        return Severity.WARNING
    return severity


def check_problem(check, *, status, message, at, maintenance=UNSET, parent_alert_id=UNSET):
    """A hard problem result of ``check`` (called by the poller for each one): ``fire`` its
    fingerprint ``check:<id>`` with the check's severity (``warning`` for a warning result, unless
    the check's is lower still) and its flapping. ``maintenance`` and ``parent_alert_id``: what the
    poller found for the batch (``None``: none); left out, they are looked up."""
    labels = {"check": str(check.pk), "kind": check.kind}
    if check.target:
        labels["target"] = check.target
    return fire(
        check_fingerprint(check.pk),
        source=AlertSource.CHECK,
        name=check.name,
        summary=message or f"{ResultStatus(status).label}.",
        severity=_severity_of(check, status),
        labels=labels,
        annotations={"status": str(status)},
        ci=check.ci_id,
        monitor=check,
        at=at,
        flapping=check.flapping,
        maintenance=maintenance,
        parent_alert_id=parent_alert_id,
    )


def check_recovered(check, *, at):
    """``check`` recovered (its ``recovery_threshold`` successes in a row, and not flapping):
    resolve its alert. One query when it has none firing."""
    threshold = check.recovery_threshold
    return resolve(
        check_fingerprint(check.pk),
        at=at,
        note=f"{threshold} successful check{'s' if threshold != 1 else ''} in a row.",
    )


def withdrawn(fingerprints, *, what, user, deleted=False):
    """What raised ``fingerprints`` (a check, a metric rule) stopped watching — disabled, or about
    to be ``deleted``, by ``user``: end their firing alerts, which no result will ever end now, and
    leave their incidents open with a work note — the problems were never seen to recover, so a
    person closes them. Returns the alerts ended."""
    who = f" by {user.get_username()}" if user is not None else ""
    note = f"the {what} was {'deleted' if deleted else 'disabled'}{who}, so its alert ended unrecovered; "
    note += "the incident stays open."
    ended = (resolve(fingerprint, note=note, keep_incident=True) for fingerprint in fingerprints)
    return [alert for alert in ended if alert is not None]


def check_withdrawn(check, *, user, deleted=False):
    """``withdrawn`` for ``check``'s alert. One query when none fires."""
    return withdrawn([check_fingerprint(check.pk)], what="check", user=user, deleted=deleted)


def rule_withdrawn(rule, *, user, deleted=False):
    """``withdrawn`` for the firing alerts of metric ``rule`` (one per CI it fired for)."""
    firing = Alert.objects.filter(rule_id=rule.pk, status=AlertStatus.FIRING).values_list("fingerprint", flat=True)
    return withdrawn(list(firing), what="metric rule", user=user, deleted=deleted)


# --- maintenance ending --------------------------------------------------------------------------


@transaction.atomic
def recheck_suppressed(alert_id, *, maintenance, at=None):
    """Re-decide a firing alert held back by a change or window, given the CI's ``maintenance``
    now (as ``selectors.maintenance_for`` answers). Returns whether it left maintenance (and so
    opened, or joined, an incident — an info alert none)."""
    alert = Alert.objects.select_for_update(of=("self",)).filter(pk=alert_id, status=AlertStatus.FIRING).first()
    if alert is None or alert.suppressed not in (Suppression.CHANGE, Suppression.WINDOW):
        return False
    _route(alert, maintenance=maintenance, parent_alert_id=UNSET, at=at or timezone.now())
    return alert.suppressed not in (Suppression.CHANGE, Suppression.WINDOW)


@transaction.atomic
def recheck_orphan(alert_id, *, at=None):
    """A firing alert attached to a parent alert that no longer fires, and that no further report
    will move (an inbound alert, or a check that is disabled or gone): open its own incident now.
    Returns whether it did."""
    alert = (
        Alert.objects.select_for_update(of=("self",))
        .filter(pk=alert_id, status=AlertStatus.FIRING, suppressed=Suppression.PARENT)
        .first()
    )
    if alert is None or Alert.objects.filter(pk=alert.parent_id, status=AlertStatus.FIRING).exists():
        return False
    _route(alert, maintenance=UNSET, parent_alert_id=UNSET, at=at or timezone.now())
    return alert.suppressed != Suppression.PARENT


def safely(call, *args, **kwargs):
    """``call``, with an error logged rather than raised (for a periodic sweep over many alerts)."""
    try:
        return call(*args, **kwargs)
    except Exception:  # one bad alert must not stop the sweep
        logger.exception("monitoring: %s failed for %s", getattr(call, "__name__", call), args)
        return None
