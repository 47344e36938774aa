"""Escalating an incident to a vendor under a contract that covers its CIs, and what the vendor
does with it.

- ``eligible_contracts``: the contracts an incident may be escalated under (active, of a support
  type, covering one of its affected CIs or services);
- ``escalate``: the escalation is recorded, the incident goes on hold awaiting the vendor (when
  new or in progress), and vendor clocks start against the contract's term for the incident's
  priority, counted in the contract's support hours;
- ``record_response`` / ``record_resolution``: the vendor answered / fixed it (its clocks stop,
  met or breached); a resolution gives the incident back to its team when it was on hold
  awaiting the vendor and no other escalation is live;
- ``withdraw``: the escalation is withdrawn (its clocks canceled; the incident given back too).

Every step writes a line on the incident's timeline. Bad input → ``ValidationError`` per field,
a move the escalation's or the incident's state forbids → ``Conflict`` (409), someone without
``vendors.add_vendorescalation`` / ``vendors.change_vendorescalation`` → ``PermissionDenied``.
Nothing is written when one is raised.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents.choices import OPEN_STATES as INCIDENT_OPEN_STATES
from incidents.choices import HoldReason, IncidentState, TimelineKind
from incidents.models import Incident
from incidents.timeline import record
from itom.api.exceptions import Conflict
from itom.locks import lock_row
from slas.choices import ClockState, Metric
from slas.services import cancel_clocks, start_fixed_clocks, stop_clock
from vendors.choices import SUPPORT_TYPES, ContractType, EscalationState
from vendors.models import Contract, VendorEscalation

LIVE_STATES = (EscalationState.OPEN, EscalationState.RESPONDED)
MAX_TICKET_LENGTH = VendorEscalation._meta.get_field("vendor_ticket").max_length
MAX_NOTE_LENGTH = 10_000


def _incident_services():
    from incidents.services import incidents

    return incidents


# --- reading ----------------------------------------------------------------------------------


def incident_ci_ids(incident):
    """The ids of the CIs an incident affects, directly or as an affected business service."""
    through_cis = Incident.affected_cis.through.objects.filter(incident_id=incident.pk).values_list("ci_id", flat=True)
    through_services = Incident.affected_services.through.objects.filter(incident_id=incident.pk).values_list(
        "ci_id", flat=True
    )
    return set(through_cis) | set(through_services)


def _covering(ci_ids):
    return Contract.covered_cis.through.objects.filter(ci_id__in=ci_ids).values("contract_id")


def eligible_contracts(incident, today=None):
    """The contracts ``incident`` may be escalated under: active on ``today`` (default: today),
    of a support type, covering one of its affected CIs or services; by vendor, soonest end first."""
    today = today or timezone.localdate()
    return (
        Contract.objects.filter(
            type__in=SUPPORT_TYPES,
            start_date__lte=today,
            end_date__gte=today,
            pk__in=_covering(incident_ci_ids(incident)),
        )
        .select_related("vendor", "support_calendar")
        .order_by("vendor__name", "end_date", "number")
    )


def live_escalations(incident):
    return VendorEscalation.objects.filter(incident=incident, state__in=LIVE_STATES)


# --- helpers ----------------------------------------------------------------------------------


def _check_may(user, permission, what):
    """``user`` None is the system acting (a task); a person needs ``permission``."""
    if user is not None and not user.has_perm(permission):
        raise PermissionDenied(f"You may not {what}.")


def _actor(user):
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def _text(value, name, limit):
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationError({name: f"At most {limit} characters ({len(value)} given)."})
    return value


def _local(moment, zone=None):
    """``moment`` as a reader sees it: in ``zone`` (a calendar's, say) or the portal's."""
    if moment is None:
        return "—"
    return timezone.localtime(moment, ZoneInfo(zone) if zone else None).strftime("%Y-%m-%d %H:%M %Z")


def _moment(at, escalation, now):
    """When the vendor acted: ``at`` (an aware datetime, not in the future, not before the
    escalation) or now."""
    if at is None:
        return now
    if not isinstance(at, dt.datetime):
        raise ValidationError({"at": "Give a date and time."})
    if timezone.is_naive(at):
        raise ValidationError({"at": "Give a date and time with its time zone."})
    if at > now:
        raise ValidationError({"at": "That is in the future."})
    if at < escalation.escalated_at:
        raise ValidationError({"at": f"That is before the escalation ({_local(escalation.escalated_at)})."})
    return at


def _lock_incident(incident):
    return lock_row(Incident, incident, "incident")


def _lock_contract(contract):
    return lock_row(Contract.objects.select_related("vendor", "support_calendar"), contract, "contract")


def _lock_escalation(escalation):
    """The escalation's incident and the escalation, locked in that order (as ``escalate`` does)."""
    pk = escalation.pk if isinstance(escalation, VendorEscalation) else escalation
    incident_id = VendorEscalation.objects.filter(pk=pk).values_list("incident_id", flat=True).first()
    if incident_id is None:
        raise ValidationError({"escalation": f"Escalation {pk} does not exist."})
    incident = _lock_incident(incident_id)
    escalation = (
        VendorEscalation.objects.select_for_update(of=("self",)).select_related("vendor", "contract").get(pk=pk)
    )
    return incident, escalation


def _check_contract(contract, incident, today):
    if contract.type not in SUPPORT_TYPES:
        kinds = ", ".join(ContractType(kind).label.lower() for kind in SUPPORT_TYPES)
        return f"{contract.number} is a {contract.get_type_display().lower()} contract: escalate under a {kinds} one."
    if contract.end_date < today:
        return f"{contract.number} expired on {contract.end_date.isoformat()}."
    if contract.start_date > today:
        return f"{contract.number} starts on {contract.start_date.isoformat()}: it isn't in force yet."
    if not contract.covered_cis.filter(pk__in=incident_ci_ids(incident)).exists():
        return f"{contract.number} covers none of {incident.number}'s CIs."
    if contract.support_calendar_id is None:
        return f"{contract.number} has no support hours: set its support calendar first."
    return ""


def _targets(contract, priority):
    """``{metric: seconds}`` from the contract's term for ``priority`` (empty: no term)."""
    term = contract.terms.filter(priority=priority).first()
    if term is None:
        return {}
    targets = {}
    if term.response_minutes:
        targets[Metric.RESPONSE] = term.response_minutes * 60
    if term.resolution_minutes:
        targets[Metric.RESOLUTION] = term.resolution_minutes * 60
    return targets


def _ticket(escalation):
    return f" (ticket {escalation.vendor_ticket})" if escalation.vendor_ticket else ""


def _line(incident, *, user, body, escalation, event, time, **data):
    record(
        incident,
        TimelineKind.LINK,
        user=user,
        body=body,
        time=time,
        data={
            "vendor_escalation": escalation.pk,
            "event": event,
            "vendor": escalation.vendor_id,
            "vendor_name": escalation.vendor.name,
            "contract": escalation.contract_id,
            "number": escalation.contract.number,
            "vendor_ticket": escalation.vendor_ticket,
            **data,
        },
    )


def _outcome(clock):
    if clock is None:
        return ""
    return "met" if clock.state == ClockState.MET else "missed"


def _give_back(incident, escalation, *, user, why):
    """Put an incident on hold awaiting the vendor back in progress, unless another escalation
    is still live."""
    if incident.state != IncidentState.ON_HOLD or incident.hold_reason != HoldReason.AWAITING_VENDOR:
        return
    if live_escalations(incident).exclude(pk=escalation.pk).exists():
        return
    _incident_services().transition(incident, IncidentState.IN_PROGRESS, user=user, note=why)


# --- writing ----------------------------------------------------------------------------------


@transaction.atomic
def escalate(incident, *, user, contract, vendor_ticket="", note=""):
    """Escalate an open ``incident`` to the vendor of ``contract`` and return the escalation."""
    _check_may(user, "vendors.add_vendorescalation", "escalate incidents to vendors")
    errors = {}
    try:
        vendor_ticket = _text(vendor_ticket, "vendor_ticket", MAX_TICKET_LENGTH)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        note = _text(note, "note", MAX_NOTE_LENGTH)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if contract is None or contract == "":
        errors["contract"] = "Pick the contract to escalate under."
    if errors:
        raise ValidationError(errors)
    incident = _lock_incident(incident)
    contract = _lock_contract(contract)
    if incident.state not in INCIDENT_OPEN_STATES:
        state = incident.get_state_display().lower()
        raise Conflict(f"{incident.number} is {state}: only an open incident is escalated to a vendor.")
    now = timezone.now()
    problem = _check_contract(contract, incident, timezone.localdate(now))
    if problem:
        raise ValidationError({"contract": problem})
    if live_escalations(incident).filter(contract=contract).exists():
        raise Conflict(f"{incident.number} is already escalated to {contract.vendor} under {contract.number}.")
    escalation = VendorEscalation(
        incident=incident,
        contract=contract,
        vendor=contract.vendor,
        vendor_ticket=vendor_ticket,
        state=EscalationState.OPEN,
        priority=incident.priority,
        escalated_at=now,
        escalated_by=_actor(user),
        note=note,
    )
    try:
        with transaction.atomic():
            escalation.save()
    except IntegrityError:  # a concurrent escalation under the same contract won
        raise Conflict(
            f"{incident.number} is already escalated to {contract.vendor} under {contract.number}."
        ) from None

    targets = _targets(contract, incident.priority)
    clocks = {}
    if targets:
        started = start_fixed_clocks(
            escalation,
            calendar=contract.support_calendar,
            priority=incident.priority,
            targets=targets,
            at=now,
            reason=f"{contract.vendor} under {contract.number}",
        )
        clocks = {clock.metric: clock for clock in started}
    if clocks:
        dues = "; ".join(
            f"{clock.get_metric_display().lower()} due {_local(clock.due_at, contract.support_calendar.time_zone)}"
            for clock in sorted(clocks.values(), key=lambda c: c.metric != Metric.RESPONSE)
        )
        timing = f"Vendor clocks in {contract.support_calendar.name}: {dues}."
    else:
        timing = f"{contract.number} has no term for P{incident.priority}: no vendor clock."
    body = f"Escalated to {contract.vendor} under {contract.number} “{contract.title}”{_ticket(escalation)}. {timing}"
    _line(
        incident,
        user=user,
        body=f"{body}\n{note}" if note else body,
        escalation=escalation,
        event="escalated",
        time=now,
        due={metric: clock.due_at.isoformat() if clock.due_at else None for metric, clock in clocks.items()},
    )
    if incident.state in (IncidentState.NEW, IncidentState.IN_PROGRESS):
        _incident_services().transition(
            incident,
            IncidentState.ON_HOLD,
            user=user,
            hold_reason=HoldReason.AWAITING_VENDOR,
            note=f"Awaiting {contract.vendor}{_ticket(escalation)} under {contract.number}.",
        )
    return escalation


@transaction.atomic
def record_response(escalation, *, user, at=None, note=""):
    """The vendor responded (at ``at``, default now): the response clock stops, met or missed."""
    _check_may(user, "vendors.change_vendorescalation", "record vendor responses")
    note = _text(note, "note", MAX_NOTE_LENGTH)
    incident, escalation = _lock_escalation(escalation)
    if escalation.state != EscalationState.OPEN:
        raise Conflict(f"The escalation to {escalation.vendor} is {escalation.get_state_display().lower()} already.")
    at = _moment(at, escalation, timezone.now())
    clock = stop_clock(escalation, Metric.RESPONSE, reason=f"{escalation.vendor} responded", at=at)
    escalation.state = EscalationState.RESPONDED
    escalation.responded_at = at
    escalation.save()
    outcome = _outcome(clock)
    body = f"{escalation.vendor} responded{_ticket(escalation)} under {escalation.contract.number}"
    body += f": response target {outcome}." if outcome else "."
    _line(
        incident,
        user=user,
        body=f"{body}\n{note}" if note else body,
        escalation=escalation,
        event="responded",
        time=at,
        outcome=outcome,
    )
    return escalation


@transaction.atomic
def record_resolution(escalation, *, user, at=None, note=""):
    """The vendor resolved (at ``at``, default now): the resolution clock stops (and the response
    clock, when still open), and the incident, on hold awaiting the vendor, goes back in progress."""
    _check_may(user, "vendors.change_vendorescalation", "record vendor resolutions")
    note = _text(note, "note", MAX_NOTE_LENGTH)
    incident, escalation = _lock_escalation(escalation)
    if escalation.state not in LIVE_STATES:
        raise Conflict(f"The escalation to {escalation.vendor} is {escalation.get_state_display().lower()} already.")
    at = _moment(at, escalation, timezone.now())
    if escalation.responded_at is not None and at < escalation.responded_at:
        raise ValidationError({"at": f"That is before the vendor's response ({_local(escalation.responded_at)})."})
    response = None
    if escalation.state == EscalationState.OPEN:
        response = stop_clock(escalation, Metric.RESPONSE, reason=f"{escalation.vendor} resolved", at=at)
        escalation.responded_at = at
    resolution = stop_clock(escalation, Metric.RESOLUTION, reason=f"{escalation.vendor} resolved", at=at)
    escalation.state = EscalationState.RESOLVED
    escalation.resolved_at = at
    escalation.save()
    body = f"{escalation.vendor} resolved{_ticket(escalation)} under {escalation.contract.number}"
    outcomes = [
        f"{label} target {_outcome(clock)}"
        for label, clock in (("response", response), ("resolution", resolution))
        if clock is not None
    ]
    body += f": {', '.join(outcomes)}." if outcomes else "."
    _line(
        incident,
        user=user,
        body=f"{body}\n{note}" if note else body,
        escalation=escalation,
        event="resolved",
        time=at,
        outcome=_outcome(resolution),
    )
    _give_back(
        incident,
        escalation,
        user=user,
        why=f"{escalation.vendor} resolved{_ticket(escalation)}: back to the team to confirm the fix.",
    )
    return escalation


@transaction.atomic
def withdraw(escalation, *, user, note):
    """Withdraw a live escalation (``note`` says why): its clocks are canceled, and the incident,
    on hold awaiting the vendor, goes back in progress."""
    _check_may(user, "vendors.change_vendorescalation", "withdraw vendor escalations")
    note = _text(note, "note", MAX_NOTE_LENGTH)
    if not note:
        raise ValidationError({"note": "Say why the escalation is withdrawn."})
    incident, escalation = _lock_escalation(escalation)
    if escalation.state not in LIVE_STATES:
        raise Conflict(f"The escalation to {escalation.vendor} is {escalation.get_state_display().lower()} already.")
    now = timezone.now()
    cancel_clocks(escalation, at=now)
    escalation.state = EscalationState.CANCELED
    escalation.save()
    _line(
        incident,
        user=user,
        body=f"Escalation to {escalation.vendor}{_ticket(escalation)} under {escalation.contract.number} withdrawn.\n"
        f"{note}",
        escalation=escalation,
        event="withdrawn",
        time=now,
    )
    _give_back(
        incident,
        escalation,
        user=user,
        why=f"Escalation to {escalation.vendor} withdrawn: back to the team.",
    )
    return escalation
