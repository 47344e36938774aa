"""Creating, changing, deleting and testing checks.

Fields (``FIELDS``): ``name``, ``ci`` (a CI or its id), ``kind``, ``target``, ``port``, ``params``
(validated per kind by ``monitoring.params.clean``, defaults filled in), ``interval`` (seconds, at
least ``MONITORING_MIN_INTERVAL``), ``timeout`` (seconds, over 0, at most 60 and below the
interval), ``max_attempts``, ``retry_interval`` (at least ``MONITORING_MIN_INTERVAL``),
``recovery_threshold``, ``auto_resolve``, ``severity``, ``zone`` (a zone, its id or name; the
``default`` zone when not given) and ``enabled``.

Bad input raises ``ValidationError({field: [reasons]})`` naming every bad field, and nothing is
written. Each write runs in one transaction, an update with the check's row locked and re-read.

Scheduling: a new check is first due after a random part of its interval (at most a minute), so
checks created together do not all run together; a heartbeat after its period plus grace. An
update of the interval, kind, target (or a heartbeat's period/grace), and enabling a check, set
the next due time the same way; disabling a check drops the lease of a batch running it.

``test_check(**fields)`` validates like ``create_check`` (only the kind and what it needs are
required), writes nothing and runs the check once: the "test now" of the form and the API.
"""

import random
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from cmdb.models import CI
from itom.locks import lock_row
from itom.validation import pk_of, refuse_unknown_fields
from monitoring import params as check_params
from monitoring import probes
from monitoring.choices import CheckKind
from monitoring.models import Check, Zone
from monitoring.services import alerts

FIELDS = (
    "name",
    "ci",
    "kind",
    "target",
    "port",
    "params",
    "interval",
    "timeout",
    "max_attempts",
    "retry_interval",
    "recovery_threshold",
    "auto_resolve",
    "severity",
    "zone",
    "enabled",
)
TARGET_FIELDS = ("kind", "target", "port", "params")
PLAIN_FIELDS = (
    "name",
    "interval",
    "timeout",
    "max_attempts",
    "retry_interval",
    "recovery_threshold",
    "auto_resolve",
    "severity",
    "enabled",
)
# Changing one of these sets the next due time anew.
RESCHEDULING_FIELDS = ("interval", "kind", "target", "port", "params", "enabled")
MAX_TIMEOUT = 60
MAX_INTERVAL = 7 * 86400
DEFAULT_ZONE = "default"
FIRST_RUN_SPREAD = 60  # seconds: a new check first runs after a random part of min(interval, this)
HEARTBEAT_PUSHED = "A heartbeat is pushed: use its ping URLs."


def _ci(value):
    if value in (None, ""):
        raise ValidationError("Choose the CI this check watches.")
    pk = pk_of(value)
    ci = CI.objects.filter(pk=pk).first() if pk is not None else None
    if ci is None:
        raise ValidationError(f"Unknown CI: {value}.")
    return ci


def _zone(value):
    if value in (None, ""):
        zone = Zone.objects.filter(name=DEFAULT_ZONE).first()
        if zone is None:
            raise ValidationError(f"Choose a zone (there is no “{DEFAULT_ZONE}” zone).")
        return zone
    if isinstance(value, Zone):
        value = value.pk
    pk = pk_of(value)
    zone = Zone.objects.filter(pk=pk).first() if pk is not None else Zone.objects.filter(name=str(value)).first()
    if zone is None:
        raise ValidationError(f"Unknown zone: {value}.")
    return zone


def _assign(check, fields, errors):
    """Set the plain fields on ``check``, each converted by its model field."""
    for name in PLAIN_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        field = check._meta.get_field(name)
        if isinstance(value, str):
            value = value.strip()
        if value in (None, "") and not field.null and name != "name":
            errors[name] = ["This field is required."]
            continue
        try:
            setattr(check, name, field.to_python(value))
        except ValidationError as exc:
            errors[name] = exc.messages


def _collect(errors, name, produce):
    try:
        return produce()
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for key, messages in exc.message_dict.items():
                errors.setdefault(key, []).extend(messages)
        else:
            errors.setdefault(name, []).extend(exc.messages)
        return None


def _check_timing(check, errors):
    """The interval, timeout and retry interval against the floor and each other."""
    floor = settings.MONITORING_MIN_INTERVAL
    interval, timeout, retry = check.interval, check.timeout, check.retry_interval
    if "interval" not in errors and not floor <= interval <= MAX_INTERVAL:
        errors["interval"] = [f"The interval must be between {floor} and {MAX_INTERVAL} seconds."]
    if "retry_interval" not in errors and not floor <= retry <= MAX_INTERVAL:
        errors["retry_interval"] = [f"The retry interval must be between {floor} and {MAX_INTERVAL} seconds."]
    if "timeout" not in errors:
        if not 0 < timeout <= MAX_TIMEOUT:
            errors["timeout"] = [f"The timeout must be over 0 and at most {MAX_TIMEOUT} seconds."]
        elif "interval" not in errors and timeout >= interval:
            errors["timeout"] = ["The timeout must be shorter than the interval."]


def _clean_target(check, fields, errors):
    """Kind, target, port and params, cleaned together (``monitoring.params.clean``)."""
    kind = fields.get("kind", check.kind)
    kind = kind.strip().lower() if isinstance(kind, str) else kind
    # A new kind starts from its own defaults unless params are given.
    params = fields.get("params", check.params if kind == check.kind else None)
    target, port = fields.get("target", check.target), fields.get("port", check.port)
    cleaned = _collect(errors, "params", lambda: check_params.clean(kind, target, port, params))
    if cleaned is not None:
        check.kind = kind
        check.target, check.port, check.params = cleaned


def _validate(check, fields, errors, *, require_ci=True, require_name=True):
    """Apply ``fields`` to ``check`` (unsaved changes only) and collect every problem."""
    _assign(check, fields, errors)
    if "ci" in fields or (require_ci and check.ci_id is None):
        ci = _collect(errors, "ci", lambda: _ci(fields.get("ci", check.ci_id)))
        if ci is not None:
            check.ci = ci
    if "zone" in fields or check.zone_id is None:
        zone = _collect(errors, "zone", lambda: _zone(fields.get("zone")))
        if zone is not None:
            check.zone = zone
    if "kind" not in errors and (check.pk is None or any(name in fields for name in TARGET_FIELDS)):
        _clean_target(check, fields, errors)
    _check_timing(check, errors)
    exclude = [*errors, "ci", "zone", "kind", "target", "port", "params"]
    if not require_name:
        exclude.append("name")
    _collect(errors, "__all__", lambda: check.full_clean(exclude=exclude, validate_constraints=False))
    if errors:
        raise ValidationError(errors)


def first_due(check, now=None):
    """When a check (new, or rescheduled) is next due."""
    now = now or timezone.now()
    if check.kind == CheckKind.HEARTBEAT:
        period = check.params.get("period", 86400) + check.params.get("grace", 0)
        return now + timedelta(seconds=period)
    return now + timedelta(seconds=random.uniform(0, min(check.interval, FIRST_RUN_SPREAD)))


@transaction.atomic
def create_check(*, user, **fields) -> Check:
    """Create a check from ``FIELDS`` and return it. ``user`` is the person acting (the audit
    trail takes it from the request)."""
    refuse_unknown_fields(fields, FIELDS, "a check")
    check = Check()
    errors = {}
    if not isinstance(fields.get("name"), str) or not fields["name"].strip():
        errors["name"] = ["Give the check a name."]
    if fields.get("kind") in (None, ""):
        errors["kind"] = ["Choose the kind of check."]
    if fields.get("kind") == CheckKind.HEARTBEAT:
        # One missed run is the problem, one ping the recovery (a daily job can't retry).
        fields = {"max_attempts": 1, "recovery_threshold": 1} | fields
    _validate(check, fields, errors)
    check.next_due_at = first_due(check)
    check.save()
    return check


@transaction.atomic
def update_check(check, *, user, **fields) -> Check:
    """Change ``fields`` of ``check`` and return it as it is now. Changing the kind without new
    ``params`` starts from the new kind's defaults."""
    refuse_unknown_fields(fields, FIELDS, "a check")
    check = lock_row(Check, check, "check")
    before = {name: getattr(check, name) for name in (*RESCHEDULING_FIELDS, "kind", "enabled")}
    errors = {}
    if "name" in fields and (not isinstance(fields["name"], str) or not fields["name"].strip()):
        errors["name"] = ["Give the check a name."]
    if "kind" in fields and fields["kind"] in (None, ""):
        errors["kind"] = ["Choose the kind of check."]
    _validate(check, fields, errors)
    changed = {name for name, value in before.items() if getattr(check, name) != value}
    if not check.enabled:
        check.claimed_until = None
    elif changed & set(RESCHEDULING_FIELDS):
        check.next_due_at = first_due(check)
        check.claimed_until = None
    check.save()
    if before["enabled"] and not check.enabled:
        alerts.check_withdrawn(check, user=user)
    return check


@transaction.atomic
def delete_check(check, *, user) -> None:
    """Delete ``check`` with its results and rollups. Its alerts stay, without the check; the
    firing one ends (``alerts.check_withdrawn``)."""
    check = lock_row(Check, check, "check")
    alerts.check_withdrawn(check, user=user, deleted=True)
    check.delete()


def validate_for_test(fields) -> probes.CheckSpec:
    """The spec ``test_check`` would run for ``fields`` (a ``ValidationError`` like create's)."""
    fields = {name: value for name, value in fields.items() if name != "user"}
    refuse_unknown_fields(fields, FIELDS, "a check")
    if fields.get("kind") in (None, ""):
        raise ValidationError({"kind": ["Choose the kind of check."]})
    if fields.get("kind") == CheckKind.HEARTBEAT:
        raise ValidationError({"kind": [HEARTBEAT_PUSHED]})
    check = Check()
    errors = {}
    _validate(check, fields, errors, require_ci=bool(fields.get("ci")), require_name=False)
    return probes.CheckSpec(
        id=None, kind=check.kind, target=check.target, port=check.port, params=check.params, timeout=check.timeout
    )


def test_check(**fields) -> probes.Outcome:
    """Validate ``fields`` like ``create_check`` (name and CI optional), write nothing, run the
    check once and return what it found. A heartbeat can't be run: a ``ValidationError``."""
    return probes.run_once(validate_for_test(fields))


test_check.__test__ = False  # not a pytest test when a test module imports it


def run_now(check) -> probes.Outcome:
    """Run a saved check once (nothing written): "test now" on a check's page."""
    if check.kind == CheckKind.HEARTBEAT:
        raise ValidationError({"kind": [HEARTBEAT_PUSHED]})
    return probes.run_once(probes.CheckSpec.of(check))
