"""The Ansible dynamic inventory: CIs as hosts in the JSON that ``ansible-inventory --list`` prints.

Hosts are the CIs that are not retired and have an FQDN or an IP address; a host's name is its
FQDN, else its CI name (made unique when two CIs would share one). Groups, with names Ansible
accepts (``[a-z0-9_]``):

- ``class_<slug>`` per CI class, nested as the classes are (``class_server`` has the child
  ``class_linux_server``), so ``class_server`` reaches every server;
- ``env_<environment>``, ``team_<owner team>``, ``tag_<tag>``.

Each host's vars: ``ansible_host`` (FQDN, else first IP) and ``itom_*`` facts from the CMDB
(``itom_attributes`` holds the class attributes). Three queries, whatever the estate's size.
"""

import re

from cmdb.choices import Status
from cmdb.models import CIClass

UNSAFE = re.compile(r"[^a-z0-9_]+")


def group_name(prefix, value):
    """``prefix`` + ``value`` as a name Ansible accepts: ``team_network_operations``."""
    cleaned = UNSAFE.sub("_", str(value).lower()).strip("_")
    return f"{prefix}_{cleaned or 'unnamed'}"


def inventory_hosts(queryset):
    """The CIs an inventory lists: not retired, with an FQDN or an IP address."""
    return (
        queryset.exclude(status=Status.RETIRED)
        .exclude(fqdn="", ip_addresses=[])
        .select_related("ci_class", "owner_team")
        .prefetch_related("tags")
        .order_by("pk")
    )


class _Groups:
    """Group names per (kind, key), kept distinct: two teams whose names clean up alike get
    ``team_ops`` and ``team_ops_2``."""

    def __init__(self):
        self.by_key = {}
        self.taken = set()

    def name(self, prefix, key, label):
        if (prefix, key) not in self.by_key:
            base = group_name(prefix, label)
            name, counter = base, 1
            while name in self.taken:
                counter += 1
                name = f"{base}_{counter}"
            self.taken.add(name)
            self.by_key[(prefix, key)] = name
        return self.by_key[(prefix, key)]


def ansible_inventory(queryset):
    """``{"_meta": {"hostvars": …}, "all": {"children": […]}, "<group>": {"hosts": […], "children": […]}}``."""
    cis = list(inventory_hosts(queryset))
    classes = {c.pk: c for c in CIClass.objects.only("pk", "slug", "parent_id")}
    groups, namer = {}, _Groups()

    def group(name):
        return groups.setdefault(name, {"hosts": [], "children": []})

    hostvars = {}
    for ci, host in zip(cis, _host_names(cis), strict=True):
        hostvars[host] = _hostvars(ci)
        group(namer.name("class", ci.ci_class_id, ci.ci_class.slug))["hosts"].append(host)
        group(namer.name("env", ci.environment, ci.environment))["hosts"].append(host)
        if ci.owner_team_id is not None:
            group(namer.name("team", ci.owner_team_id, ci.owner_team.name))["hosts"].append(host)
        for tag in ci.tags.all():
            group(namer.name("tag", tag.pk, tag.name))["hosts"].append(host)

    # Parent classes become parent groups, up to the root.
    pending, linked = list({ci.ci_class_id for ci in cis}), set()
    while pending:
        pk = pending.pop()
        parent_pk = classes[pk].parent_id if pk in classes else None
        if parent_pk not in classes or (pk, parent_pk) in linked:
            continue
        linked.add((pk, parent_pk))
        children = group(namer.name("class", parent_pk, classes[parent_pk].slug))["children"]
        children.append(namer.name("class", pk, classes[pk].slug))
        pending.append(parent_pk)
    nested = {child for body in groups.values() for child in body["children"]}
    top = set(groups) - nested

    inventory = {"_meta": {"hostvars": hostvars}, "all": {"children": sorted(top | {"ungrouped"})}}
    for name in sorted(groups):
        body = {}
        if groups[name]["hosts"]:
            body["hosts"] = groups[name]["hosts"]
        if groups[name]["children"]:
            body["children"] = sorted(groups[name]["children"])
        inventory[name] = body
    # A group needs at least one known key: Ansible reads a bare {} as a malformed host entry.
    inventory["ungrouped"] = {"hosts": []}
    return inventory


def _host_names(cis):
    """Each CI's inventory name: its FQDN, else its name; a name two CIs would share gets the CI's
    id appended (``web01_17``), so no two hosts ever collide."""
    bases = [ci.fqdn or re.sub(r"[\s,]+", "-", ci.name.strip()) for ci in cis]
    counts = {}
    for base in bases:
        counts[base.lower()] = counts.get(base.lower(), 0) + 1
    taken = {base.lower() for base in bases if counts[base.lower()] == 1}
    names = []
    for ci, base in zip(cis, bases, strict=True):
        name = base
        if counts[base.lower()] > 1:
            name = f"{base}_{ci.pk}"
            while name.lower() in taken:
                name += "_"
            taken.add(name.lower())
        names.append(name)
    return names


def _hostvars(ci):
    return {
        "ansible_host": ci.ansible_host,
        "itom_id": ci.pk,
        "itom_name": ci.name,
        "itom_class": ci.ci_class.slug,
        "itom_environment": ci.environment,
        "itom_status": ci.status,
        "itom_criticality": ci.criticality,
        "itom_owner_team": ci.owner_team.name if ci.owner_team_id is not None else None,
        "itom_tags": sorted((tag.name for tag in ci.tags.all()), key=str.lower),
        "itom_location": ci.location,
        "itom_fqdn": ci.fqdn,
        "itom_ip_addresses": list(ci.ip_addresses or []),
        "itom_attributes": dict(ci.attributes or {}),
    }
