"""Home-page panels. Each app registers panels in ``AppConfig.ready()``; a panel is a template
and a function ``context(request) -> dict`` (return None to hide the panel for this user)."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Panel:
    key: str
    title: str
    template: str
    context: Callable
    order: int = 100
    width: int = 6  # Bootstrap grid columns out of 12


_panels = {}


def register(panel):
    _panels[panel.key] = panel


def panels_for(request):
    shown = []
    for panel in sorted(_panels.values(), key=lambda p: (p.order, p.key)):
        context = panel.context(request)
        if context is not None:
            shown.append((panel, context))
    return shown
