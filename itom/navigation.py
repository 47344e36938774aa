"""The left navigation. Apps add their entries in ``AppConfig.ready()`` with ``register``;
entries appear in DESIGN.md §5's order and only for users who hold their permission."""

from dataclasses import dataclass

ORDER = ("Dashboard", "Incidents", "Problems", "Changes", "CMDB", "Monitoring", "Vendors", "Reports", "Teams")


@dataclass(frozen=True)
class MenuItem:
    label: str
    url_name: str
    permission: str | None = None
    section: str | None = None  # a path prefix (e.g. "/cmdb/") under which the item shows as active

    def is_active(self, path, url):
        if self.section:
            return path.startswith(self.section)
        return path == url or (url != "/" and path.startswith(url))


_items = {}


def register(item):
    if item.label not in ORDER:
        raise ValueError(f"{item.label!r} is not a navigation section; add it to ORDER first")
    _items[item.label] = item


def items_for(user):
    visible = []
    for label in ORDER:
        item = _items.get(label)
        if item and (item.permission is None or user.has_perm(item.permission)):
            visible.append(item)
    return visible
