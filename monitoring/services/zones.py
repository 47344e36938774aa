"""Zones (where checks are polled from): the one code path for the API and the admin console.

The ``default`` zone is where a check goes when none is named (``checks.DEFAULT_ZONE``): it keeps
its name and is never deleted. A zone that still has checks is not deleted either (move them
first)."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from itom.api.exceptions import Conflict
from itom.locks import lock_row
from itom.validation import refuse_unknown_fields
from monitoring.models import Zone
from monitoring.services.checks import DEFAULT_ZONE

FIELDS = ("name", "description")


def _require(user, action):
    if user is not None and not user.has_perm(f"monitoring.{action}_zone"):
        raise PermissionDenied(f"You may not {action} zones.")


def is_default(zone):
    return zone.name == DEFAULT_ZONE


def _save(zone, fields):
    for name, value in fields.items():
        setattr(zone, name, value)
    zone.full_clean()
    zone.save()
    return zone


@transaction.atomic
def create_zone(*, user, **fields):
    _require(user, "add")
    refuse_unknown_fields(fields, FIELDS, "a zone")
    return _save(Zone(), fields)


@transaction.atomic
def update_zone(zone, *, user, **fields):
    """Edit ``fields``; the default zone keeps its name (a ``ValidationError`` on ``name``)."""
    _require(user, "change")
    refuse_unknown_fields(fields, FIELDS, "a zone")
    zone = lock_row(Zone, zone, "zone")
    if is_default(zone) and fields.get("name", DEFAULT_ZONE) != DEFAULT_ZONE:
        raise ValidationError({"name": [f"The “{DEFAULT_ZONE}” zone keeps its name: new checks go there."]})
    return _save(zone, fields)


@transaction.atomic
def delete_zone(zone, *, user):
    """Delete ``zone``: never the default zone, nor one that still has checks (``Conflict``)."""
    _require(user, "delete")
    zone = lock_row(Zone, zone, "zone")
    if is_default(zone):
        raise Conflict(f"The “{DEFAULT_ZONE}” zone can't be deleted: new checks go there.")
    count = zone.checks.count()
    if count:
        raise Conflict(
            f"The zone “{zone.name}” still has {count} check{'s' if count != 1 else ''}: "
            "move them to another zone first."
        )
    zone.delete()
