"""A change's timeline: every line is written by ``record`` (work notes, state changes,
approval decisions, risk assessments and overrides, schedule changes, incident links), so the
detail page and the API read one ordered list."""

from django.utils import timezone

from changes.choices import ChangeTimelineKind
from changes.models import ChangeTimelineEntry
from incidents.timeline import author_label


def record(change, kind, *, user=None, body="", data=None, time=None):
    """Write one timeline line on ``change`` and return it. ``user`` is the person who acted
    (None for a task or the system: the current actor's label is shown); ``data`` carries the
    structured details (``{"from": "assess", "to": "authorize"}``)."""
    if kind not in ChangeTimelineKind.values:
        raise ValueError(f"unknown timeline kind {kind!r}")
    author = user if user is not None and getattr(user, "is_authenticated", False) else None
    return ChangeTimelineEntry.objects.create(
        change=change,
        time=time or timezone.now(),
        kind=kind,
        author=author,
        author_name=author_label(user)[:150],
        body=body,
        data=data or {},
    )
