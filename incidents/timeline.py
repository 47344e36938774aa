"""An incident's timeline: every line of it is written by ``record`` (comments and work notes,
state changes, assignments, priority changes, attachments, SLA events, major-incident updates,
links), so the detail page and the API read one ordered list."""

from django.utils import timezone

from incidents.choices import TimelineKind
from incidents.models import TimelineEntry
from itom.context import current_actor


def author_label(user):
    """The name a timeline line shows for ``user``, or for the task or system acting when None."""
    if user is not None and getattr(user, "is_authenticated", False):
        return user.get_username()
    return current_actor().label


def record(
    incident,
    kind,
    *,
    user=None,
    body="",
    public=False,
    data=None,
    attachment=None,
    origin=None,
    time=None,
):
    """Write one timeline line on ``incident`` and return it.

    ``user`` is the person who acted (None for a task or the system: the current actor's label
    is shown, e.g. ``task:incidents.tasks.auto_close_resolved``); ``public`` lines are visible
    to the caller (comments, state changes), the others are internal (work notes, SLA events);
    ``data`` carries the structured details (``{"from": "new", "to": "on_hold"}``); ``origin``
    is the parent's line a major-incident update repeats."""
    if kind not in TimelineKind.values:
        raise ValueError(f"unknown timeline kind {kind!r}")
    author = user if user is not None and getattr(user, "is_authenticated", False) else None
    return TimelineEntry.objects.create(
        incident=incident,
        time=time or timezone.now(),
        kind=kind,
        public=public,
        author=author,
        author_name=author_label(user)[:150],
        body=body,
        data=data or {},
        attachment=attachment,
        origin=origin,
    )
