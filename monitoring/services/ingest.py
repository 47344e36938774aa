"""Inbound alerts: Prometheus Alertmanager's webhook and the portal's generic event format, turned
into firing and resolved alerts (``monitoring.services.alerts``) — the same alert → incident path
as the checks.

A payload is validated whole before anything is written (``parse_alertmanager``,
``parse_events``): any bad item is a ``ValidationError`` naming it, e.g. ``alerts[3].startsAt``,
and nothing is processed. ``process`` then fires or resolves each alert in its own small
transaction; the items of one payload that share a fingerprint are folded into one call (a firing
run adds its count to the alert's occurrences), so an alert storm costs one update per fingerprint.

**Alertmanager** (webhook ``version`` "4"): ``status``, ``groupKey``, ``alerts[]`` each with
``status`` (firing | resolved), ``labels`` (``alertname`` names the alert; ``severity`` gives its
severity, else the integration's default), ``annotations`` (``summary`` or ``description``),
``startsAt``, ``endsAt`` (RFC 3339; Alertmanager's zero time ``0001-01-01T00:00:00Z`` = none) and
``fingerprint``. The alert's fingerprint is ``am:<fingerprint>``.

**Events** (``{"events": [...]}``), each: ``fingerprint`` (or ``key``; required, ≤ 200 chars),
``status`` (firing | resolved; default firing), ``name`` (required when firing), ``summary``,
``severity`` (default: the integration's), ``ci`` (an id, or a name, FQDN or IP), ``labels`` (an
object of strings), ``time`` (ISO 8601 with a zone, default now; not in the future). The alert's
fingerprint is ``ev:<fingerprint>``.

**CIs**: an event's ``ci``, else the first of the labels ``ci``, ``instance``, ``host``,
``hostname``, ``fqdn`` that names a CI — by name (any case), FQDN or IP address; a port (``:9100``,
``[2001:db8::1]:9100``) and a URL's scheme and path are stripped. A value that names no CI gives
an alert without a CI (it still opens an incident).
"""

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cmdb.models import CI
from incidents.models import Incident
from monitoring.choices import AlertSource, AlertStatus, Severity

MAX_ITEMS = 10_000  # alerts or events in one request
MAX_ERRORS = 50  # errors reported for one payload
CI_LABELS = ("ci", "instance", "host", "hostname", "fqdn")
FUTURE_TOLERANCE = timedelta(minutes=5)
NAME_MAX = 200
FINGERPRINT_MAX = 200
SUMMARY_MAX = 5000
# Severity labels as monitoring tools spell them → the portal's severities.
SEVERITY_ALIASES = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "major": Severity.MAJOR,
    "high": Severity.MAJOR,
    "error": Severity.MAJOR,
    "minor": Severity.MINOR,
    "medium": Severity.MINOR,
    "low": Severity.MINOR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "info": Severity.INFO,
    "informational": Severity.INFO,
    "none": Severity.INFO,
}


@dataclass
class Item:
    """One alert of a payload, validated."""

    fingerprint: str
    status: str
    name: str
    summary: str
    severity: str
    labels: dict
    annotations: dict = field(default_factory=dict)
    at: datetime | None = None
    since: datetime | None = None  # when the sender says the problem started (``startsAt``)
    ci_ref: object = None  # an event's explicit ``ci`` (id or text)
    ci_values: tuple = ()  # label values that may name the CI, in order


class _Errors:
    """Collects ``{field: [message]}`` for one payload (at most ``MAX_ERRORS`` fields)."""

    def __init__(self):
        self.errors = {}

    def add(self, name, message):
        if len(self.errors) < MAX_ERRORS:
            self.errors.setdefault(name, []).append(message)

    def raise_if_any(self):
        if self.errors:
            raise ValidationError(self.errors)


def _describe(value):
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def parse_time(value, name, errors, *, required=True, zero_is_none=False, now=None):
    """``value`` (RFC 3339 / ISO 8601 text with a zone) as an aware datetime; problems go to
    ``errors`` under ``name``. Alertmanager's zero time (year 1) is None when ``zero_is_none``."""
    if value is None or value == "":
        if required:
            errors.add(name, "This field is required: an RFC 3339 time such as 2025-03-31T14:00:00Z.")
        return None
    if not isinstance(value, str):
        errors.add(name, f"Expected an RFC 3339 time such as 2025-03-31T14:00:00Z, got {_describe(value)}.")
        return None
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None:
        errors.add(name, f"“{value[:60]}” is not an RFC 3339 time such as 2025-03-31T14:00:00Z.")
        return None
    if timezone.is_naive(moment):
        errors.add(name, f"“{value[:60]}” has no time zone: end it with Z or an offset such as +02:00.")
        return None
    if moment.year <= 1:
        if zero_is_none:
            return None
        errors.add(name, f"“{value[:60]}” is not a real time.")
        return None
    if now is not None and moment > now + FUTURE_TOLERANCE:
        errors.add(name, f"“{value[:60]}” is in the future.")
        return None
    return moment


def _string_map(value, name, errors, *, required):
    """A JSON object of strings (numbers and booleans are turned into text)."""
    if value is None:
        if required:
            errors.add(name, "This field is required: an object of strings.")
        return {}
    if not isinstance(value, dict):
        errors.add(name, f"Expected an object of strings, got {_describe(value)}.")
        return {}
    out = {}
    for key, item in value.items():
        if isinstance(item, str):
            out[str(key)] = item
        elif isinstance(item, (bool, int, float)):
            out[str(key)] = str(item).lower() if isinstance(item, bool) else str(item)
        else:
            errors.add(f"{name}.{key}", f"Expected a string, got {_describe(item)}.")
    return out


def _severity(value, default):
    return SEVERITY_ALIASES.get(str(value or "").strip().lower(), default)


def _items_list(payload, key, errors):
    if not isinstance(payload, dict):
        raise ValidationError({"non_field_errors": [f"Expected a JSON object, got {_describe(payload)}."]})
    items = payload.get(key)
    if items is None:
        errors.add(key, "This field is required: a list.")
        return []
    if not isinstance(items, list):
        errors.add(key, f"Expected a list, got {_describe(items)}.")
        return []
    if len(items) > MAX_ITEMS:
        errors.add(key, f"At most {MAX_ITEMS} items per request; got {len(items)}.")
        return []
    return items


def parse_alertmanager(payload, *, default_severity=Severity.MAJOR, now=None):
    """The alerts of an Alertmanager webhook payload (version 4) as ``Item``s, or a
    ``ValidationError`` naming every bad field (``version``, ``alerts[2].startsAt`` …)."""
    now = now or timezone.now()
    errors = _Errors()
    alerts = _items_list(payload, "alerts", errors)
    version = payload.get("version")
    if version is None:
        errors.add("version", 'This field is required: "4".')
    elif str(version) != "4":
        errors.add("version", f"Unsupported webhook version “{version}”: only version 4 is accepted.")
    if payload.get("status") not in AlertStatus.values:
        errors.add("status", f"Expected firing or resolved, got “{payload.get('status')}”.")
    if not isinstance(payload.get("groupKey"), str):
        errors.add("groupKey", f"This field is required: a string (got {_describe(payload.get('groupKey'))}).")
    items = []
    for index, alert in enumerate(alerts):
        at = f"alerts[{index}]"
        if not isinstance(alert, dict):
            errors.add(at, f"Expected an object, got {_describe(alert)}.")
            continue
        status = alert.get("status")
        if status not in AlertStatus.values:
            errors.add(f"{at}.status", f"Expected firing or resolved, got “{status}”.")
        labels = _string_map(alert.get("labels"), f"{at}.labels", errors, required=True)
        annotations = _string_map(alert.get("annotations"), f"{at}.annotations", errors, required=False)
        starts = parse_time(alert.get("startsAt"), f"{at}.startsAt", errors)
        ends = parse_time(alert.get("endsAt"), f"{at}.endsAt", errors, required=False, zero_is_none=True)
        fingerprint = alert.get("fingerprint")
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            errors.add(f"{at}.fingerprint", "This field is required: Alertmanager's fingerprint of the alert.")
            fingerprint = ""
        elif len(fingerprint) > FINGERPRINT_MAX:
            errors.add(f"{at}.fingerprint", f"At most {FINGERPRINT_MAX} characters.")
        if errors.errors:
            continue  # keep validating the rest, build nothing
        name = " ".join(labels.get("alertname", "").split()) or f"Alert {fingerprint.strip()}"
        summary = annotations.get("summary") or annotations.get("description") or ""
        resolved_at = min(ends, now) if ends is not None else now
        items.append(
            Item(
                fingerprint=f"am:{fingerprint.strip()}",
                status=status,
                name=name[:NAME_MAX],
                summary=summary[:SUMMARY_MAX],
                severity=_severity(labels.get("severity"), default_severity),
                labels=labels,
                annotations=annotations,
                at=resolved_at if status == AlertStatus.RESOLVED else None,
                since=starts if starts <= now else None,  # a skewed clock's future is not believed
                ci_values=tuple(labels[key] for key in CI_LABELS if labels.get(key)),
            )
        )
    errors.raise_if_any()
    return items


def parse_events(payload, *, default_severity=Severity.MAJOR, now=None):
    """The events of a generic event payload as ``Item``s, or a ``ValidationError`` naming every
    bad field (``events[0].fingerprint`` …). See the module docstring for the format."""
    now = now or timezone.now()
    errors = _Errors()
    events = _items_list(payload, "events", errors)
    items = []
    for index, event in enumerate(events):
        at = f"events[{index}]"
        if not isinstance(event, dict):
            errors.add(at, f"Expected an object, got {_describe(event)}.")
            continue
        key_name = "fingerprint" if "fingerprint" in event else "key"
        fingerprint = event.get(key_name)
        if isinstance(fingerprint, int) and not isinstance(fingerprint, bool):
            fingerprint = str(fingerprint)
        if not isinstance(fingerprint, str) or not fingerprint.strip():
            errors.add(f"{at}.fingerprint", "This field is required (or key): what identifies the problem.")
            fingerprint = ""
        elif len(fingerprint) > FINGERPRINT_MAX:
            errors.add(f"{at}.{key_name}", f"At most {FINGERPRINT_MAX} characters.")
        status = event.get("status", AlertStatus.FIRING)
        if status not in AlertStatus.values:
            errors.add(f"{at}.status", f"Expected firing or resolved, got “{status}”.")
        name = event.get("name")
        if name is not None and not isinstance(name, str):
            errors.add(f"{at}.name", f"Expected a string, got {_describe(name)}.")
            name = None
        if status == AlertStatus.FIRING and not (name or "").strip():
            errors.add(f"{at}.name", "This field is required for a firing event.")
        summary = event.get("summary", "")
        if not isinstance(summary, str):
            errors.add(f"{at}.summary", f"Expected a string, got {_describe(summary)}.")
        severity = event.get("severity")
        if severity is not None and str(severity).strip().lower() not in SEVERITY_ALIASES:
            errors.add(f"{at}.severity", f"Expected one of {', '.join(Severity.values)}, got “{severity}”.")
        ci_ref = event.get("ci")
        if ci_ref is not None and (isinstance(ci_ref, bool) or not isinstance(ci_ref, (int, str))):
            errors.add(f"{at}.ci", f"Expected a CI id, name, FQDN or IP address, got {_describe(ci_ref)}.")
        labels = _string_map(event.get("labels"), f"{at}.labels", errors, required=False)
        moment = parse_time(event.get("time"), f"{at}.time", errors, required=False, now=now)
        if errors.errors:
            continue
        items.append(
            Item(
                fingerprint=f"ev:{fingerprint.strip()}",
                status=status,
                name=" ".join((name or "").split())[:NAME_MAX] or fingerprint.strip()[:NAME_MAX],
                summary=summary[:SUMMARY_MAX],
                severity=_severity(severity, default_severity),
                labels=labels,
                at=moment,
                ci_ref=ci_ref,
                ci_values=tuple(labels[key] for key in CI_LABELS if labels.get(key)),
            )
        )
    errors.raise_if_any()
    return items


# --- CIs ---------------------------------------------------------------------------------------


def host_of(value):
    """The host a label value names: ``db-01.example.com:9100`` → ``db-01.example.com``,
    ``[2001:db8::1]:9100`` → ``2001:db8::1``, ``https://shop.example.com/health`` →
    ``shop.example.com``; lower-case, no trailing dot."""
    text = str(value).strip()
    if "://" in text:
        text = urlsplit(text).netloc.rpartition("@")[2]
    else:
        text = text.split("/", 1)[0]
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
        if port.isdigit() or not port:
            text = host
    return text.rstrip(".").lower()


def _ip(text):
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def resolve_cis(values):
    """``{value: CI}`` for the values (ids, names, FQDNs, IPs, label values with ports) that name
    a CI, in a bounded number of queries. A value several CIs answer to picks an active one
    first, then the oldest."""
    ids, names, hosts, ips = set(), set(), set(), set()
    for value in values:
        if isinstance(value, int):
            ids.add(value)
            continue
        text = str(value).strip()
        if text.isdigit():
            ids.add(int(text))
        host = host_of(text)
        names.update({text.lower(), host})
        hosts.add(host)
        if _ip(host):
            ips.add(_ip(host))
    names.discard("")
    hosts.discard("")
    if not (ids or names or hosts or ips):
        return {}
    condition = Q(pk__in=ids) | Q(lname__in=names) | Q(fqdn__in=hosts)
    if ips:
        if connection.vendor == "postgresql":
            condition |= Q(ip_addresses__has_any_keys=sorted(ips))
        else:
            for ip in ips:
                condition |= Q(ip_addresses__icontains=f'"{ip}"')
    candidates = (
        CI.objects.annotate(lname=Lower("name"))
        .filter(condition)
        .only("id", "name", "fqdn", "ip_addresses", "status", "criticality", "owner_team_id")
    )
    by_id, by_name, by_fqdn, by_ip = {}, defaultdict(list), defaultdict(list), defaultdict(list)
    for ci in candidates:
        by_id[ci.pk] = ci
        by_name[ci.name.lower()].append(ci)
        if ci.fqdn:
            by_fqdn[ci.fqdn.lower()].append(ci)
        for ip in ci.ip_addresses or ():
            by_ip[str(ip)].append(ci)

    def best(cis):
        return min(cis, key=lambda ci: (ci.status != "active", ci.pk)) if cis else None

    found = {}
    for value in values:
        if isinstance(value, int) or str(value).strip().isdigit():
            ci = by_id.get(int(str(value).strip()))
            if ci is not None:
                found[value] = ci
                continue
        text = str(value).strip()
        host = host_of(text)
        ci = (
            best(by_name.get(text.lower(), []))
            or best(by_name.get(host, []))
            or best(by_fqdn.get(host, []))
            or best(by_ip.get(_ip(host) or "", []))
        )
        if ci is not None:
            found[value] = ci
    return found


def _ci_of(item, cis):
    if item.ci_ref is not None and item.ci_ref in cis:
        return cis[item.ci_ref]
    for value in item.ci_values:
        if value in cis:
            return cis[value]
    return None


# --- processing --------------------------------------------------------------------------------


def _runs(items):
    """Consecutive items of the same status, as lists."""
    run = []
    for item in items:
        if run and run[-1].status != item.status:
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def process(items, *, integration=None, source=AlertSource.EVENTS):
    """Fire or resolve the alerts of ``items`` (already validated), each fingerprint in its own
    transaction. Returns ``{"received", "firing", "resolved", "alerts", "incidents_opened"}``:
    items, firing and resolved items, distinct fingerprints, and incidents opened by them now."""
    from monitoring.services import alerts

    started = timezone.now()
    cis = resolve_cis({value for item in items for value in (item.ci_ref, *item.ci_values) if value is not None})
    by_fingerprint = defaultdict(list)
    for item in items:
        by_fingerprint[item.fingerprint].append(item)
    label = f"{integration.name}" if integration is not None else source
    incident_ids = set()
    for fingerprint, group in by_fingerprint.items():
        for run in _runs(group):
            last = run[-1]
            with transaction.atomic():
                if last.status == AlertStatus.FIRING:
                    alert = alerts.fire(
                        fingerprint,
                        source=source,
                        name=last.name,
                        summary=last.summary,
                        severity=last.severity,
                        labels=last.labels,
                        annotations=last.annotations,
                        ci=_ci_of(last, cis),
                        integration=integration,
                        at=last.at,
                        since=min((item.since for item in run if item.since is not None), default=None),
                        count=len(run),
                    )
                    if alert is not None and alert.incident_id:
                        incident_ids.add(alert.incident_id)
                else:
                    alerts.resolve(fingerprint, at=last.at, note=f"Resolved by {label}.")
    opened = Incident.objects.filter(pk__in=incident_ids, created_at__gte=started).count() if incident_ids else 0
    return {
        "received": len(items),
        "firing": sum(1 for item in items if item.status == AlertStatus.FIRING),
        "resolved": sum(1 for item in items if item.status == AlertStatus.RESOLVED),
        "alerts": len(by_fingerprint),
        "incidents_opened": opened,
    }
