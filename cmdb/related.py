"""The "related objects" panel of a CI's page. Apps above the CMDB (incidents, changes,
monitoring, vendors) register what they hold about a CI in their ``AppConfig.ready()``:

    related.register(related.RelatedObjects(
        key="incidents", title="Open incidents", permission="incidents.view_incident",
        queryset=lambda ci: Incident.objects.open().filter(ci=ci),
        list_url=lambda ci: f"{reverse('incidents:incident_list')}?ci={ci.pk}",
    ))

The panel shows each registered kind the user may see, with a count and the first few objects.
"""

from collections.abc import Callable
from dataclasses import dataclass

SHOWN = 5


@dataclass(frozen=True)
class RelatedObjects:
    key: str
    title: str
    permission: str
    queryset: Callable  # (ci) -> QuerySet
    list_url: Callable | None = None  # (ci) -> URL of the full, filtered list
    order: int = 100
    label: Callable = str  # (object) -> how the panel names one object (e.g. with its state)


_registry = {}


def register(kind):
    _registry[kind.key] = kind


def registered():
    return sorted(_registry.values(), key=lambda k: (k.order, k.key))


def related_to(ci, user):
    """``[(kind, count, [(object, label)], list URL)]`` for the kinds ``user`` may see."""
    panels = []
    for kind in registered():
        if not user.has_perm(kind.permission):
            continue
        queryset = kind.queryset(ci)
        objects = list(queryset[:SHOWN])
        count = len(objects) if len(objects) < SHOWN else queryset.count()
        labelled = [(obj, kind.label(obj)) for obj in objects]
        panels.append((kind, count, labelled, kind.list_url(ci) if kind.list_url else None))
    return panels
