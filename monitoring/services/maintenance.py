"""Maintenance windows, and what happens when maintenance ends.

A window covers CIs, CI classes (and their subclasses) and tags; it is one-off (``start`` to
``end``) or weekly (``weekdays`` 0 = Monday … 6 = Sunday from ``start_time`` in TIME_ZONE for
``duration_minutes``, repeating from ``start``'s day to ``end``'s day, or for ever). While a
window or a change being implemented covers a CI, its checks keep running and their failures
open no incident (``monitoring.services.alerts``). ``release_ended`` — every minute, from the
``release_maintenance`` task — opens the incidents of the failures still firing when that
maintenance is over (a change is marked as the likely cause).

``create_window`` / ``update_window`` / ``delete_window``: bad input raises
``ValidationError({field: reason})`` (nothing written); a user without the model permission
gets ``PermissionDenied``; ``user=None`` is the system. Every write is audited
(``ChangeLoggedModel``).
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from cmdb.models import CI, CIClass, Tag
from itom.locks import lock_row
from itom.validation import refuse_unknown_fields
from monitoring import selectors
from monitoring.choices import AlertStatus, Recurrence, Suppression
from monitoring.models import Alert, MaintenanceWindow
from monitoring.services import alerts

WINDOW_FIELDS = (
    "name",
    "reason",
    "cis",
    "ci_classes",
    "tags",
    "recurrence",
    "start",
    "end",
    "weekdays",
    "start_time",
    "duration_minutes",
    "active",
)
PLAIN_FIELDS = ("name", "reason", "recurrence", "start", "end", "start_time", "duration_minutes", "active")
MAX_DURATION_MINUTES = selectors.MAX_WEEKLY_MINUTES


def _require(user, action):
    if user is not None and not user.has_perm(f"monitoring.{action}_maintenancewindow"):
        verb = {"add": "add", "change": "edit", "delete": "delete"}[action]
        raise PermissionDenied(f"You may not {verb} maintenance windows.")


def _as_list(values):
    if values is None:
        return []
    if isinstance(values, (str, int)) or hasattr(values, "pk"):
        return [values]
    try:
        return list(values)
    except TypeError:
        return None


def _ids(model, values, name, label, by_name=None):
    """Primary keys of ``model`` from objects, ids (or, with ``by_name``, names); unknown ones
    are refused, naming them."""
    items = _as_list(values)
    if items is None:
        raise ValidationError({name: f"Give a list of {label} (or their ids)."})
    ids, names, bad = [], [], []
    for item in items:
        if hasattr(item, "pk"):
            ids.append(item.pk)
        elif isinstance(item, int) and not isinstance(item, bool):
            ids.append(item)
        elif isinstance(item, str) and item.strip().isdigit():
            ids.append(int(item.strip()))
        elif isinstance(item, str) and by_name and item.strip():
            names.append(item.strip())
        else:
            bad.append(str(item))
    found = set(model._default_manager.filter(pk__in=ids).values_list("pk", flat=True))
    bad += [str(pk) for pk in ids if pk not in found]
    if names:
        query = Q()
        for text in names:
            query |= Q(**{f"{by_name}__iexact": text})
        named = {value.lower(): pk for pk, value in model._default_manager.filter(query).values_list("pk", by_name)}
        for text in names:
            if text.lower() in named:
                found.add(named[text.lower()])
            else:
                bad.append(text)
    if bad:
        raise ValidationError({name: f"Unknown {label}: {', '.join(bad)}."})
    return sorted(found)


def _weekdays(value):
    items = _as_list(value)
    if items is None:
        raise ValidationError({"weekdays": "Give the days as numbers: 0 = Monday … 6 = Sunday."})
    days = []
    for item in items:
        try:
            day = int(item)
        except (TypeError, ValueError):
            day = None
        if day is None or isinstance(item, bool) or not 0 <= day <= 6 or str(item).strip() != str(day):
            raise ValidationError({"weekdays": f"Days are numbers from 0 (Monday) to 6 (Sunday); got {item!r}."})
        if day not in days:
            days.append(day)
    return sorted(days)


def _assign(window, fields):
    """Set the plain fields, each converted by its model field; all conversion errors at once."""
    errors = {}
    for name in PLAIN_FIELDS:
        if name not in fields:
            continue
        value = fields[name]
        field = window._meta.get_field(name)
        if isinstance(value, str):
            value = value.strip()
            if "\x00" in value:
                errors[name] = "Null characters are not allowed."
                continue
        if value in (None, "") and (field.null or name == "start"):
            value = None
        elif value is None and field.empty_strings_allowed:
            value = ""
        try:
            value = field.to_python(value)
        except ValidationError as exc:
            errors[name] = exc.messages
            continue
        if isinstance(value, dt.datetime) and timezone.is_naive(value):
            value = timezone.make_aware(value)
        setattr(window, name, value)
    if "weekdays" in fields:
        try:
            window.weekdays = _weekdays(fields["weekdays"])
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)


def _validate(window, coverage):
    """The window's rules, every broken one named by its field."""
    errors = {}
    if not (window.name or "").strip():
        errors["name"] = "Give the window a name."
    if window.recurrence not in Recurrence.values:
        errors["recurrence"] = f"Unknown recurrence {window.recurrence!r}: one of {', '.join(Recurrence.values)}."
    if window.start is None:
        errors["start"] = "When does the window start?"
    if window.recurrence == Recurrence.ONCE:
        if window.end is None:
            errors["end"] = "A one-off window needs its end."
        elif window.start is not None and window.end <= window.start:
            errors["end"] = "The end must be after the start."
    elif window.recurrence == Recurrence.WEEKLY:
        if not window.weekdays:
            errors["weekdays"] = "Choose at least one day of the week (0 = Monday … 6 = Sunday)."
        if window.start_time is None:
            errors["start_time"] = "At what time (in the portal's time zone) does the window begin each day?"
        duration = window.duration_minutes
        if duration is None or not 1 <= duration <= MAX_DURATION_MINUTES:
            errors["duration_minutes"] = f"How long it lasts: 1 to {MAX_DURATION_MINUTES} minutes (a week)."
        if window.end is not None and window.start is not None and window.end < window.start:
            errors["end"] = "The last day must not be before the first."
    if not any(coverage.values()):
        errors["cis"] = "Choose at least one CI, CI class or tag for the window to cover."
    if errors:
        raise ValidationError(errors)
    window.full_clean(exclude=["cis", "ci_classes", "tags", "created_by"])


def _coverage(fields, window=None):
    """``{"cis": ids, "ci_classes": ids, "tags": ids}``: those given, else the window's own."""
    errors, coverage = {}, {}
    for name, model, label, by_name in (
        ("cis", CI, "CIs", "name"),
        ("ci_classes", CIClass, "CI classes", "slug"),
        ("tags", Tag, "tags", "name"),
    ):
        if name in fields:
            try:
                coverage[name] = _ids(model, fields[name], name, label, by_name)
            except ValidationError as exc:
                errors.update(exc.message_dict)
        elif window is not None and window.pk:
            coverage[name] = list(getattr(window, name).values_list("pk", flat=True))
        else:
            coverage[name] = []
    if errors:
        raise ValidationError(errors)
    return coverage


def _save(window, fields, *, partial):
    errors = {}
    try:
        _assign(window, fields)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        coverage = _coverage(fields, window if partial else None)
    except ValidationError as exc:
        errors.update(exc.message_dict)
        coverage = None
    if window.recurrence == Recurrence.WEEKLY and window.start is None and "start" not in errors:
        window.start = timezone.now()
    if errors:
        raise ValidationError(errors)
    _validate(window, coverage)
    window.save()
    for name, ids in coverage.items():
        if not partial or name in fields:
            getattr(window, name).set(ids)
    return window


@transaction.atomic
def create_window(*, user, **fields):
    """A new maintenance window (``WINDOW_FIELDS``). ``cis`` (CIs, ids or names), ``ci_classes``
    (classes, ids or slugs) and ``tags`` (tags, ids or names): at least one of them. One-off:
    ``start`` and ``end``. Weekly: ``weekdays``, ``start_time``, ``duration_minutes`` (1–10080),
    ``start`` (its first day, default today) and an optional ``end`` (its last day)."""
    _require(user, "add")
    refuse_unknown_fields(fields, WINDOW_FIELDS, "a maintenance window")
    window = MaintenanceWindow(created_by=user if user is not None and user.is_authenticated else None)
    return _save(window, dict(fields), partial=False)


@transaction.atomic
def update_window(window, *, user, **fields):
    """Edit a window: the fields given (a list given replaces that set)."""
    _require(user, "change")
    refuse_unknown_fields(fields, WINDOW_FIELDS, "a maintenance window")
    window = lock_row(MaintenanceWindow, window, "window", "Maintenance window")
    return _save(window, dict(fields), partial=True)


@transaction.atomic
def delete_window(window, *, user):
    """Delete a window. Failures it held back open their incidents at the next ``release_ended``."""
    _require(user, "delete")
    window = lock_row(MaintenanceWindow, window, "window", "Maintenance window")
    window.delete()


# --- maintenance ending --------------------------------------------------------------------------


def release_ended(now=None):
    """Open the incidents of firing alerts whose maintenance is over: those held back by a change
    or window that no longer covers their CI (a change: marked as the incident's likely cause),
    and those attached to a parent alert that no longer fires when no further report will move
    them (an inbound alert, or a check that is disabled or gone). An alert still covered, by the
    same or another change or window, stays held back. Each alert in its own transaction; one
    that fails is logged and left for the next run. Returns how many alerts were released."""
    now = now or timezone.now()
    held = list(
        Alert.objects.filter(
            status=AlertStatus.FIRING, suppressed__in=[Suppression.CHANGE, Suppression.WINDOW]
        ).values_list("pk", "ci_id")
    )
    released = 0
    if held:
        covering = selectors.maintenance_for({ci_id for _, ci_id in held if ci_id is not None}, now)
        for pk, ci_id in held:
            released += bool(alerts.safely(alerts.recheck_suppressed, pk, maintenance=covering.get(ci_id), at=now))
    orphans = (
        Alert.objects.filter(status=AlertStatus.FIRING, suppressed=Suppression.PARENT)
        .exclude(parent__status=AlertStatus.FIRING)
        .filter(Q(monitor__isnull=True) | Q(monitor__enabled=False))
        .values_list("pk", flat=True)
    )
    for pk in list(orphans):
        released += bool(alerts.safely(alerts.recheck_orphan, pk, at=now))
    return released
