"""Host facts import: server and VM CIs from what Ansible's ``setup`` module and Puppet's
``facter --json`` report about a host.

Accepted input (text, bytes or parsed JSON):

- the output of ``ansible HOSTS -m setup`` (``host | SUCCESS => {"ansible_facts": {...}}``, one
  block per host; ``-o``/one-line output too); a ``FAILED!`` or ``UNREACHABLE!`` host is an error;
- ``{"ansible_facts": {...}}`` (what ``ansible -m setup --tree DIR`` writes per host), a dict of
  ``ansible_*`` facts (a fact cache file), or the ``ansible_facts`` variable (keys without the
  ``ansible_`` prefix, e.g. ``{{ ansible_facts | to_json }}``);
- the json stdout callback's output (``ANSIBLE_STDOUT_CALLBACK=json``);
- Puppet ``facter --json`` (facter 4 structured facts: ``os``, ``networking``, ``dmi``…);
- a list of any of these, or an object mapping host names to any of these.

Each host becomes one row of an ``ImportReport`` (``cmdb.imports.run``): matched to an existing CI
by serial number, else by FQDN in the environment, else by class + name; created otherwise.
"""

import ipaddress
import json
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from cmdb.choices import Environment, Status
from cmdb.imports import MAX_ROWS, Lookups, RowReport, finish, run, snapshot
from cmdb.models import CI

# Values firmware and facts tools put where they know nothing (compared case-insensitively).
PLACEHOLDERS = {
    "",
    "na",
    "n/a",
    "none",
    "null",
    "unknown",
    "not specified",
    "not available",
    "not applicable",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "default string",
    "system serial number",
    "system product name",
    "system manufacturer",
    "system version",
    "chassis serial number",
    "base board serial number",
    "invalid",
    "0123456789",
    "123456789",
}
ALL_ZEROS = re.compile(r"^[0\s-]+$")
# Interfaces whose addresses aren't the host's own: container, VM and overlay bridges.
BRIDGES = re.compile(
    r"^(docker\d*|br-[0-9a-f]{6,}|veth|virbr\d+|vnet\d+|cni|flannel|cali|cilium|vxlan|tunl|weave|kube-|lxcbr|lxdbr|podman)"
)
LOCAL_NAMES = {"localhost", "localhost.localdomain", "localhost6", "localhost6.localdomain6"}
ANSIBLE_BLOCK = re.compile(r"^(?P<host>[^\s|]+) \| (?P<status>[A-Z]+!?)(?: \| rc=-?\d+)? =>\s*", re.MULTILINE)
VIRTUAL_CLASS, WINDOWS_CLASS, LINUX_CLASS, OTHER_CLASS = "virtual-machine", "windows-server", "linux-server", "server"
FACT_FIELDS = ("fqdn", "ip_addresses", "serial_number", "manufacturer", "model", "operating_system")


@dataclass
class Host:
    """One host's facts, read from the input: where they came from and what they say."""

    label: str = ""  # the name the input gave the host (Ansible's inventory name), if any
    source: str = ""  # "ansible" | "facter"
    facts: dict = field(default_factory=dict)
    error: str = ""  # the input reported a failure for this host instead of facts


@dataclass
class HostValues:
    """What a host's facts say about its CI."""

    name: str = ""
    class_slug: str = ""
    fqdn: str = ""
    ip_addresses: list = field(default_factory=list)
    serial_number: str = ""
    manufacturer: str = ""
    model: str = ""
    operating_system: str = ""
    attributes: dict = field(default_factory=dict)


# --- reading the input ------------------------------------------------------------------------


def parse_hosts(payload):
    """The hosts in ``payload`` (see the module docstring); ``ValidationError({"facts": [...]})``
    when it holds none or can't be read."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        try:
            payload = bytes(payload).decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationError({"facts": ["The facts are not UTF-8 text."]}) from None
    if isinstance(payload, str):
        hosts = _hosts_from_text(payload.removeprefix("\ufeff"))
    else:
        hosts = _hosts_from(payload)
    if not hosts:
        raise ValidationError(
            {
                "facts": [
                    "No host facts found: expected the output of `ansible -m setup`, ansible_facts JSON, "
                    "or `facter --json`."
                ]
            }
        )
    if len(hosts) > MAX_ROWS:
        raise ValidationError({"facts": [f"{len(hosts):,} hosts; at most {MAX_ROWS:,} can be imported at once."]})
    return hosts


def _hosts_from_text(text):
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            return _hosts_from(json.loads(stripped))
        except json.JSONDecodeError:
            pass  # perhaps ad-hoc output whose first host name starts with a bracket: try below
    hosts, decoder = [], json.JSONDecoder()
    for match in ANSIBLE_BLOCK.finditer(text):
        label, status = match["host"], match["status"].rstrip("!")
        try:
            body, _ = decoder.raw_decode(text, match.end())
        except json.JSONDecodeError as exc:
            raise ValidationError(
                {"facts": [f"The result for host “{label}” is not valid JSON: {exc.msg} (line {exc.lineno})."]}
            ) from None
        if status in ("SUCCESS", "CHANGED") and isinstance(body, dict):
            found = _hosts_from(body, label)
            hosts.extend(found or [Host(label=label, error="The result holds no ansible_facts.")])
        else:
            reason = body.get("msg") if isinstance(body, dict) else None
            hosts.append(Host(label=label, error=f"Ansible reported {status} for this host: {reason or 'no facts'}"))
    if not hosts and stripped:
        raise ValidationError(
            {"facts": ["Not JSON, nor the output of `ansible -m setup` (lines like “host | SUCCESS => {…}”)."]}
        )
    return hosts


def _hosts_from(data, label=""):
    if isinstance(data, list):
        hosts = []
        for item in data:
            hosts.extend(_hosts_from(item) if isinstance(item, (dict, list)) else [])
        return hosts
    if not isinstance(data, dict):
        return []
    if isinstance(data.get("ansible_facts"), dict):
        if data.get("failed") or data.get("unreachable"):
            return [Host(label=label, error=f"Ansible reported a failure: {data.get('msg') or 'no facts'}")]
        return [Host(label=label, source="ansible", facts=_ansible_keys(data["ansible_facts"]))]
    if data.get("unreachable") or (data.get("failed") and "msg" in data):
        return [Host(label=label, error=f"Ansible reported a failure: {data.get('msg') or 'no facts'}")]
    if any(key.startswith("ansible_") for key in data):
        return [Host(label=label, source="ansible", facts=_ansible_keys(data))]
    if isinstance(data.get("os"), dict) or "facterversion" in data:
        return [Host(label=label, source="facter", facts=data)]
    if "hostname" in data and ("distribution" in data or "os_family" in data):
        return [Host(label=label, source="ansible", facts=_ansible_keys(data))]
    if isinstance(data.get("plays"), list):  # the json stdout callback
        hosts = []
        for play in data["plays"]:
            for task in play.get("tasks", []) if isinstance(play, dict) else []:
                results = task.get("hosts", {}) if isinstance(task, dict) else {}
                for host_label, result in results.items() if isinstance(results, dict) else []:
                    if isinstance(result, dict) and ("ansible_facts" in result or result.get("unreachable")):
                        hosts.extend(_hosts_from(result, host_label))
        return hosts
    hosts = []  # {"web01": {...facts...}, "db01": {...}}
    for host_label, value in data.items():
        if isinstance(value, dict):
            hosts.extend(_hosts_from(value, str(host_label)))
    return hosts


def _ansible_keys(facts):
    """Ansible's facts with the ``ansible_`` prefix on every key (the ``ansible_facts`` variable
    drops it; ``ansible -m setup`` keeps it)."""
    return {key if key.startswith("ansible_") else f"ansible_{key}": value for key, value in facts.items()}


# --- what the facts say -----------------------------------------------------------------------


def host_values(host):
    """``HostValues`` from an Ansible or facter host."""
    values = _from_facter(host.facts) if host.source == "facter" else _from_ansible(host.facts)
    if not values.name and host.label:
        values.name = _short_name(host.label)
    if not values.fqdn and host.label and "." in host.label and not _is_ip(host.label):
        values.fqdn = host.label.lower()
    return values


def _from_ansible(f):
    def get(name):
        return f.get(f"ansible_{name}")

    windows = str(get("os_family") or "").lower() == "windows" or str(get("system") or "").lower().startswith("win")
    values = HostValues()
    values.name = _short_name(_text(get("hostname")) or _text(get("nodename")))
    values.fqdn = _fqdn(_text(get("fqdn")) or _text(get("nodename")), values.name, _text(get("domain")))
    v4, v6 = _ansible_interface_addresses(f)
    values.ip_addresses = _addresses(
        [_dict(get("default_ipv4")).get("address")],
        v4 if v4 is not None else get("all_ipv4_addresses"),
        [_dict(get("default_ipv6")).get("address")],
        v6 if v6 is not None else get("all_ipv6_addresses"),
        get("ip_addresses") if v4 is None else None,  # Windows
    )
    values.serial_number = _real(get("product_serial")) or _real(get("chassis_serial"))
    values.manufacturer = _real(get("system_vendor"))
    values.model = _real(get("product_name"))
    if windows:
        values.operating_system = _text(get("os_name")) or _text(get("distribution"))
    else:
        values.operating_system = " ".join(
            part for part in (_text(get("distribution")), _text(get("distribution_version"))) if part
        )
    cpus = _int(get("processor_vcpus")) or _int(get("processor_nproc"))
    if cpus is None and _int(get("processor_count")):
        cpus = _int(get("processor_count")) * (_int(get("processor_cores")) or 1)
        cpus *= _int(get("processor_threads_per_core")) or 1
    role, kind = _text(get("virtualization_role")).lower(), _text(get("virtualization_type"))
    virtual = role == "guest" and kind.lower() not in ("", "na", "n/a")
    values.attributes = _attributes(
        cpu_count=cpus,
        memory_mb=_int(get("memtotal_mb")),
        kernel=_text(get("kernel")),
        architecture=_text(get("architecture2")) or _text(get("architecture")),
        hypervisor=kind if virtual else "",
    )
    system = _text(get("system")).lower()
    values.class_slug = (
        VIRTUAL_CLASS if virtual else WINDOWS_CLASS if windows else LINUX_CLASS if system == "linux" else OTHER_CLASS
    )
    return values


def _from_facter(f):
    networking, os_facts = _dict(f.get("networking")), _dict(f.get("os"))
    dmi, product = _dict(f.get("dmi")), _dict(_dict(f.get("dmi")).get("product"))
    kernel = _text(f.get("kernel"))
    windows = kernel.lower() == "windows" or _text(os_facts.get("family")).lower() == "windows"
    values = HostValues()
    values.name = _short_name(_text(networking.get("hostname")) or _text(f.get("hostname")))
    values.fqdn = _fqdn(
        _text(networking.get("fqdn")) or _text(f.get("fqdn")),
        values.name,
        _text(networking.get("domain")) or _text(f.get("domain")),
    )
    interfaces = [i for name, i in _dict(networking.get("interfaces")).items() if not BRIDGES.match(name)]
    v4 = [binding.get("address") for i in interfaces for binding in _bindings(i, "bindings")]
    v6 = [binding.get("address") for i in interfaces for binding in _bindings(i, "bindings6")]
    values.ip_addresses = _addresses([networking.get("ip")], v4, [networking.get("ip6")], v6)
    values.serial_number = _real(product.get("serial_number")) or _real(f.get("serialnumber"))
    values.manufacturer = _real(dmi.get("manufacturer")) or _real(f.get("manufacturer"))
    values.model = _real(product.get("name")) or _real(f.get("productname"))
    release = _text(_dict(os_facts.get("release")).get("full"))
    if windows:
        product_name = _text(_dict(os_facts.get("windows")).get("product_name"))
        values.operating_system = product_name or " ".join(p for p in ("Windows", release) if p)
    else:
        values.operating_system = " ".join(p for p in (_text(os_facts.get("name")), release) if p)
    memory = _int(_dict(_dict(f.get("memory")).get("system")).get("total_bytes"))
    hypervisor = _text(f.get("virtual"))
    virtual = f.get("is_virtual") in (True, "true") and hypervisor.lower() not in ("", "physical")
    values.attributes = _attributes(
        cpu_count=_int(_dict(f.get("processors")).get("count")),
        memory_mb=memory // (1024 * 1024) if memory else None,
        kernel=_text(f.get("kernelrelease")),
        architecture=_text(os_facts.get("hardware")) or _text(os_facts.get("architecture")),
        hypervisor=hypervisor if virtual else "",
    )
    values.class_slug = (
        VIRTUAL_CLASS
        if virtual
        else WINDOWS_CLASS
        if windows
        else LINUX_CLASS
        if kernel.lower() == "linux"
        else OTHER_CLASS
    )
    return values


def _text(value):
    return value.strip() if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else ""


def _dict(value):
    return value if isinstance(value, dict) else {}


def _int(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _real(value):
    """A hardware string, or "" for the placeholders firmware reports when it knows nothing."""
    text = _text(value)
    return "" if text.lower() in PLACEHOLDERS or ALL_ZEROS.match(text) else text


def _short_name(name):
    name = (name or "").strip()
    return name if _is_ip(name) else name.split(".")[0]


def _fqdn(fqdn, hostname, domain):
    fqdn = (fqdn or "").strip().rstrip(".").lower()
    if fqdn in LOCAL_NAMES or fqdn.startswith("localhost.") or _is_ip(fqdn):
        fqdn = ""
    if "." not in fqdn and hostname and domain and not _is_ip(hostname):
        fqdn = f"{hostname}.{domain.strip('.')}".lower()
    return fqdn if "." in fqdn else ""


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ansible_interface_addresses(f):
    """``(IPv4, IPv6)`` addresses of the host's own interfaces (container and hypervisor bridges
    left out), or ``(None, None)`` when the facts don't describe each interface (Windows, or a
    ``gather_subset`` without ``network``)."""
    names = f.get("ansible_interfaces")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return None, None
    v4, v6 = [], []
    for name in names:
        interface = f.get("ansible_" + re.sub(r"[-:]", "_", name))
        if BRIDGES.match(name) or not isinstance(interface, dict) or interface.get("type") == "loopback":
            continue
        v4.append(_dict(interface.get("ipv4")).get("address"))
        v4.extend(_dict(extra).get("address") for extra in _list(interface.get("ipv4_secondaries")))
        v6.extend(_dict(extra).get("address") for extra in _list(interface.get("ipv6")))
    return v4, v6


def _list(value):
    return value if isinstance(value, list) else []


def _bindings(interface, key):
    bindings = interface.get(key) if isinstance(interface, dict) else None
    return [b for b in bindings if isinstance(b, dict)] if isinstance(bindings, list) else []


def _addresses(*groups):
    """Every usable address, in the order given: no loopback, link-local or unspecified address."""
    found = []
    for group in groups:
        for item in _flatten(group):
            text = _text(item).split("%", 1)[0]
            try:
                address = ipaddress.ip_address(text)
            except ValueError:
                continue
            if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
                continue
            if str(address) not in found:
                found.append(str(address))
    return found


def _flatten(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield value


def _attributes(**values):
    return {name: value for name, value in values.items() if value not in (None, "")}


# --- importing --------------------------------------------------------------------------------


class FactsImporter:
    """Applies one host's facts to a new or existing CI (the ``handle`` given to ``run``)."""

    def __init__(self, environment, owner_team):
        self.environment = environment
        self.owner_team = owner_team
        self.lookups = Lookups()
        self.seen = {}  # serial / fqdn / class + name → the row that had it first

    def __call__(self, host, report):
        if host.error:
            report.add_error("facts", host.error)
            return
        values = host_values(host)
        report.name = values.name
        if not values.name:
            report.add_error("name", "The facts name no host (no hostname, fqdn or inventory name).")
            return
        ci_class = self.lookups.ci_class(values.class_slug)
        if ci_class is None:
            report.add_error("class", f"The class “{values.class_slug}” is missing from the catalogue.")
            return
        keys = [
            ("serial", values.serial_number),
            ("fqdn", values.fqdn.lower()),
            ("name", ci_class.pk, values.name.lower()),
        ]
        for key in keys:
            if key[-1] and key in self.seen:
                report.add_error("facts", f"The same host as row {self.seen[key]} ({key[0]} {key[-1]}).")
                return
        for key in keys:
            if key[-1]:
                self.seen[key] = report.row
        ci = self._match(values, ci_class)
        if ci is None:
            ci = CI(
                name=values.name,
                ci_class=ci_class,
                environment=self.environment,
                owner_team=self.owner_team,
                status=Status.ACTIVE,
            )
            before = None
        else:
            before = snapshot(ci)
            self.lookups.share_class(ci)
            if self.owner_team is not None and ci.owner_team_id is None:
                ci.owner_team = self.owner_team
        report.ci = ci
        for name in FACT_FIELDS:
            value = getattr(values, name)
            if value:  # facts that say nothing leave what the CMDB knows
                setattr(ci, name, value)
        schema = self.lookups.schema(ci.ci_class)
        attributes = dict(ci.attributes or {})
        attributes.update({name: value for name, value in values.attributes.items() if name in schema})
        ci.attributes = attributes
        finish(ci, report, before)

    def _match(self, values, ci_class):
        queryset = CI.objects.select_related("ci_class", "owner_team").select_for_update(of=("self",))
        if values.serial_number:
            ci = queryset.filter(serial_number=values.serial_number).first()
            if ci is not None:
                return ci
        if values.fqdn:
            ci = queryset.filter(fqdn__iexact=values.fqdn, environment=self.environment).first()
            if ci is not None:
                return ci
        return queryset.filter(ci_class=ci_class, name__iexact=values.name).first()


def import_facts(payload, environment=Environment.PRODUCTION, owner_team=None, dry_run=False):
    """Create or update CIs from host facts (see the module docstring); an ``ImportReport``."""
    if environment not in Environment.values:
        raise ValidationError(
            {"environment": [f"“{environment}” is not an environment; use one of: {', '.join(Environment.values)}."]}
        )
    if owner_team is not None and not hasattr(owner_team, "pk"):
        from accounts.models import Team

        name = str(owner_team).strip()
        team = Team.objects.filter(name__iexact=name).first() if name else None
        if team is None and name.isdigit():
            team = Team.objects.filter(pk=int(name)).first()
        if team is None and name:
            raise ValidationError({"owner_team": [f"No team is named “{name}”."]})
        owner_team = team
    hosts = parse_hosts(payload)
    importer = FactsImporter(environment, owner_team)
    entries = ((RowReport(row=number, name=host.label), host) for number, host in enumerate(hosts, start=1))
    return run(entries, importer, key="facts", dry_run=dry_run)
