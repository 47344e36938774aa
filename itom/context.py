"""Who is acting, and on behalf of which request, for the audit trail.

The web middleware, the Celery task hooks and management commands set this once per unit of
work; ``itom.audit`` reads it whenever an audited model changes, so no entry point can forget.
"""

import contextvars
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Actor:
    """The user (if any) and a label such as ``task:accounts.tasks.import_teams`` or ``system``."""

    user: object = None
    label: str = "system"
    request_id: uuid.UUID = field(default_factory=uuid.uuid4)
    request: object = None  # the HttpRequest, whose .user DRF fills in after authenticating

    def resolve_user(self):
        if self.request is not None:
            user = getattr(self.request, "user", None)
            if user is not None and user.is_authenticated:
                return user
        if self.user is not None and getattr(self.user, "is_authenticated", False):
            return self.user
        return None


_current = contextvars.ContextVar("itom_actor", default=None)


def current_actor():
    return _current.get() or Actor()


@contextmanager
def acting_as(user=None, label=None, request_id=None, request=None):
    """Run a block as ``user`` / ``label``; nested blocks restore the outer actor on exit."""
    if label is None:
        label = user.get_username() if user is not None else "system"
    actor = Actor(user=user, label=label, request_id=request_id or uuid.uuid4(), request=request)
    token = _current.set(actor)
    try:
        yield actor
    finally:
        _current.reset(token)


def set_actor(actor):
    """Set the actor without a block (Celery's prerun/postrun pair); returns the reset token."""
    return _current.set(actor)


def reset_actor(token):
    _current.reset(token)
