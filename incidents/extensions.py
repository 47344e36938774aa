"""Extra actions that apps above incidents add to the incident page (DESIGN.md §2: a lower app
never imports a higher one, so the higher one registers here from its ``AppConfig.ready()``).

    extensions.register(extensions.IncidentAction(
        key="request_change",
        label="Request change",
        url=lambda incident: f"/changes/new/?incident={incident.pk}",
        permission="changes.add_changerequest",
        visible=lambda incident: incident.state in OPEN_STATES,
    ))

The incident page shows each action the user holds the permission for and whose ``visible``
says yes, as a link in its actions bar (``incidents/incident_actions.html``).
"""

from collections.abc import Callable
from dataclasses import dataclass


def _always(incident):
    return True


@dataclass(frozen=True)
class IncidentAction:
    key: str
    label: str
    url: Callable  # url(incident) -> str
    permission: str | None = None
    visible: Callable = _always  # visible(incident) -> bool
    style: str = "outline-primary"  # the Bootstrap button style
    order: int = 100


_actions = {}


def register(action):
    _actions[action.key] = action


def unregister(key):
    _actions.pop(key, None)


def actions_for(user, incident):
    """``[{"key", "label", "url", "style"}]``: the actions ``user`` may take on ``incident``."""
    shown = []
    for action in sorted(_actions.values(), key=lambda a: (a.order, a.key)):
        if action.permission and not user.has_perm(action.permission):
            continue
        if not action.visible(incident):
            continue
        shown.append({"key": action.key, "label": action.label, "url": action.url(incident), "style": action.style})
    return shown
