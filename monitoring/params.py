"""A check's kind, target, port and ``params`` validated and normalised per kind
(``clean``), before anything is saved or run. Defaults are written into ``params``, so a stored
check says everything it does.

Per kind (``params`` keys; anything else is refused):

- ``icmp``: target a host name or IP; no port; ``count`` echo requests 1-5 (3).
- ``tcp``: target a host name or IP; port 1-65535 (required); ``send`` (text sent once connected),
  ``expect`` (text the answer must contain).
- ``http``: target an http(s) URL; no port (it is in the URL); ``method`` GET/HEAD/POST/PUT/OPTIONS
  (GET), ``expected_status`` codes and ranges (["200-399"]), ``keyword``, ``keyword_absent``
  (false), ``headers`` {name: value}, ``body``, ``latency_warning_ms``, ``max_redirects`` 0-10 (5),
  ``verify_tls`` (true).
- ``tls``: target a host name or IP; port (443); ``warning_days`` (21), ``critical_days`` (7, below
  the warning level), ``server_name`` (the target), ``verify_chain`` (true), ``ca_file`` (an
  absolute path on the worker).
- ``dns``: target the name to query (an IP for PTR is turned into its reverse name);
  ``record_type`` A/AAAA/CNAME/MX/TXT/NS/SRV/PTR/SOA (A), ``expected`` values the answer must all
  contain, ``nameserver`` an IP (the worker's resolver when empty); port the nameserver's (53).
- ``heartbeat``: no target, no port; ``period`` seconds ≥ 10 (86400), ``grace`` seconds ≥ 0 (3600).

Cloud metadata addresses given literally are refused here; names are checked again at connect
time (``monitoring.targets``).
"""

import re

import dns.exception
import dns.reversename
import httpx
from django.core.exceptions import ValidationError

from monitoring import targets
from monitoring.choices import CheckKind

DEFAULT_EXPECTED_STATUS = ("200-399",)
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "OPTIONS")
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR", "SOA")
TARGET_MAX = 500
TEXT_MAX = 1000
BODY_MAX = 10_000
HEADERS_MAX = 50
EXPECTED_MAX = 20

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_RANGE = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3})\s*)?$")

KEYS = {
    CheckKind.ICMP: ("count",),
    CheckKind.TCP: ("send", "expect"),
    CheckKind.HTTP: (
        "method",
        "expected_status",
        "keyword",
        "keyword_absent",
        "headers",
        "body",
        "latency_warning_ms",
        "max_redirects",
        "verify_tls",
    ),
    CheckKind.TLS: ("warning_days", "critical_days", "server_name", "verify_chain", "ca_file"),
    CheckKind.DNS: ("record_type", "expected", "nameserver"),
    CheckKind.HEARTBEAT: ("period", "grace"),
}


class Invalid(ValueError):
    """One bad value: the message says why (the caller names the field)."""


# --- Values ----------------------------------------------------------------------------------------


def status_ranges(values):
    """``[(low, high), …]`` of expected status codes given as ints, "301" or "200-299"."""
    ranges = []
    for value in values:
        if isinstance(value, int) and not isinstance(value, bool):
            ranges.append((value, value))
            continue
        match = _RANGE.match(str(value))
        if not match:
            raise Invalid(f"{value!r} is not a status code or a range like 200-299")
        low, high = int(match[1]), int(match[2] or match[1])
        ranges.append((low, high))
    return ranges


def integer(value, low, high):
    if isinstance(value, bool):
        raise Invalid("expected a whole number")
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise Invalid("expected a whole number")
    if not low <= value <= high:
        raise Invalid(f"must be between {low} and {high}" if high < 10**9 else f"must be at least {low}")
    return value


def boolean(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "on", "yes", "1", "false", "off", "no", "0", ""):
        return value.strip().lower() in ("true", "on", "yes", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise Invalid("expected true or false")


def text(value, limit=TEXT_MAX, *, single_line=False):
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("expected text")
    if len(value) > limit:
        raise Invalid(f"at most {limit} characters")
    if single_line and ("\r" in value or "\n" in value):
        raise Invalid("must be one line")
    return value


def host(value):
    """A host name (IDN allowed, stored in ASCII) or an IP address, checked against the metadata
    networks. Raises ``Invalid``."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a host name or IP address is required")
    value = value.strip()
    ip = targets.literal_ip(value)
    if ip is not None:
        reason = targets.refusal(str(ip))
        if reason:
            raise Invalid(reason)
        return str(ip)
    try:
        name = value.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise Invalid(f"{value!r} is not a valid host name") from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise Invalid(f"{value!r} is not a valid host name or IP address")
    if labels[-1].isdigit():
        raise Invalid(f"{value!r} is not a valid IP address")
    return name


def url(value):
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a URL is required (http:// or https://)")
    value = value.strip()
    if len(value) > TARGET_MAX:
        raise Invalid(f"at most {TARGET_MAX} characters")
    try:
        parsed = httpx.URL(value)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        raise Invalid(f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise Invalid("use an http:// or https:// URL")
    if not parsed.host:
        raise Invalid("the URL needs a host name")
    host(parsed.host)
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise Invalid("the URL's port must be between 1 and 65535")
    return str(parsed)


def query_name(value, record_type):
    if not isinstance(value, str) or not value.strip():
        raise Invalid("the name to query is required")
    value = value.strip()
    if record_type == "PTR" and targets.literal_ip(value) is not None:
        try:
            return dns.reversename.from_address(str(targets.literal_ip(value))).to_text(omit_final_dot=True)
        except dns.exception.DNSException as exc:
            raise Invalid(str(exc)) from None
    if targets.literal_ip(value) is not None:
        raise Invalid("the name to query, not an address (for an address, use a PTR record)")
    return host(value)


def nameserver(value):
    if value in (None, ""):
        return ""
    ip = targets.literal_ip(value) if isinstance(value, str) else None
    if ip is None:
        raise Invalid("the nameserver's IP address (or empty for the worker's resolver)")
    reason = targets.refusal(str(ip))
    if reason:
        raise Invalid(reason)
    return str(ip)


def expected_status(value):
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        value = [part for part in str(value).split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not value:
        raise Invalid("a list of status codes or ranges like 200-299")
    normalised = []
    for item in value:
        (low, high), *_ = status_ranges([item])
        if not (100 <= low <= 599 and 100 <= high <= 599):
            raise Invalid(f"{item!r}: status codes are between 100 and 599")
        if low > high:
            raise Invalid(f"{item!r}: the range is empty")
        normalised.append(low if low == high else f"{low}-{high}")
    return normalised


def headers(value):
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise Invalid("an object of header names and values")
    if len(value) > HEADERS_MAX:
        raise Invalid(f"at most {HEADERS_MAX} headers")
    for name, header_value in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise Invalid(f"{name!r} is not a valid header name")
        if not isinstance(header_value, str):
            raise Invalid(f"the value of {name} must be text")
        if "\r" in header_value or "\n" in header_value or len(header_value) > TEXT_MAX:
            raise Invalid(f"the value of {name} must be one line of at most {TEXT_MAX} characters")
    return dict(value)


def expected_values(value):
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) and item.strip() for item in value):
        raise Invalid("a list of values the answer must contain")
    if len(value) > EXPECTED_MAX:
        raise Invalid(f"at most {EXPECTED_MAX} values")
    return [item.strip() for item in value]


def choice(value, choices, default):
    value = default if value in (None, "") else value
    if not isinstance(value, str) or value.strip().upper() not in choices:
        raise Invalid(f"one of {', '.join(choices)}")
    return value.strip().upper()


def ca_file(value):
    value = text(value, TARGET_MAX, single_line=True).strip()
    if value and not value.startswith("/"):
        raise Invalid("an absolute path on the worker, e.g. /etc/ssl/certs/internal-ca.pem")
    return value


# --- Per kind --------------------------------------------------------------------------------------


class _Cleaner:
    """Collects the errors of one ``clean`` call, by field."""

    def __init__(self, params):
        self.params = params
        self.errors = {}
        self.out = {}

    def error(self, field, message):
        self.errors.setdefault(field, []).append(message)

    def key(self, name, convert, *args, default=None):
        """``params[name]`` converted (``default`` when absent), stored in the output."""
        value = self.params.get(name)
        if value is None or value == "":
            self.out[name] = default
            return default
        try:
            self.out[name] = convert(value, *args)
        except Invalid as exc:
            self.error("params", f"{name}: {sentence(exc)}")
            self.out[name] = default
        return self.out[name]

    def field(self, name, convert, value, *args):
        try:
            return convert(value, *args)
        except Invalid as exc:
            message = sentence(exc)
            self.error(name, message[0].upper() + message[1:])
            return value


def sentence(exc):
    text = str(exc)
    return text if text.endswith(".") else text + "."


def _no_port(c, port, kind_label, hint=""):
    if port not in (None, ""):
        c.error("port", f"A{kind_label} check has no port{hint}.")
    return None


def _port(c, port, *, default=None, required=False):
    if port in (None, ""):
        if required:
            c.error("port", "A port between 1 and 65535 is required.")
        return default
    try:
        return integer(port, 1, 65535)
    except Invalid:
        c.error("port", "The port must be between 1 and 65535.")
        return port


def _icmp(c, target, port):
    c.key("count", integer, 1, 5, default=3)
    return c.field("target", host, target), _no_port(c, port, "n ICMP")


def _tcp(c, target, port):
    c.key("send", text, default="")
    c.key("expect", text, default="")
    return c.field("target", host, target), _port(c, port, required=True)


def _http(c, target, port):
    c.key("method", choice, HTTP_METHODS, "GET", default="GET")
    c.key("expected_status", expected_status, default=list(DEFAULT_EXPECTED_STATUS))
    c.key("keyword", text, TEXT_MAX, default="")
    c.key("keyword_absent", boolean, default=False)
    c.key("headers", headers, default={})
    c.key("body", text, BODY_MAX, default="")
    c.key("latency_warning_ms", integer, 1, 600_000, default=None)
    c.key("max_redirects", integer, 0, 10, default=5)
    c.key("verify_tls", boolean, default=True)
    if c.out.get("keyword_absent") and not c.out.get("keyword"):
        c.error("params", "keyword_absent: needs a keyword.")
    if c.out["latency_warning_ms"] is None:
        del c.out["latency_warning_ms"]
    return c.field("target", url, target), _no_port(c, port, "n HTTP", ": put it in the URL")


def _tls(c, target, port):
    warning = c.key("warning_days", integer, 1, 3650, default=21)
    critical = c.key("critical_days", integer, 0, 3650, default=7)
    if isinstance(warning, int) and isinstance(critical, int) and critical >= warning:
        c.error("params", "critical_days: must be below warning_days.")
    c.key("verify_chain", boolean, default=True)
    c.key("ca_file", ca_file, default="")
    target = c.field("target", host, target)
    server_name = c.params.get("server_name")
    if server_name in (None, ""):
        c.out["server_name"] = target if isinstance(target, str) else ""
    else:
        c.key("server_name", host)
    return target, _port(c, port, default=443)


def _dns(c, target, port):
    record_type = c.key("record_type", choice, RECORD_TYPES, "A", default="A")
    c.key("expected", expected_values, default=[])
    server = c.key("nameserver", nameserver, default="")
    port = _port(c, port)
    if port is not None and not server:
        c.error("port", "A port is for the nameserver: set the nameserver too.")
    return c.field("target", query_name, target, record_type), port


def _heartbeat(c, target, port):
    c.key("period", integer, 10, 366 * 86400, default=86400)
    c.key("grace", integer, 0, 366 * 86400, default=3600)
    if target not in (None, ""):
        c.error("target", "A heartbeat has no target: it is pushed to its ping URLs.")
    return "", _no_port(c, port, " heartbeat")


CLEANERS = {
    CheckKind.ICMP: _icmp,
    CheckKind.TCP: _tcp,
    CheckKind.HTTP: _http,
    CheckKind.TLS: _tls,
    CheckKind.DNS: _dns,
    CheckKind.HEARTBEAT: _heartbeat,
}


def clean(kind, target, port, params):
    """``(target, port, params)`` normalised for ``kind``, defaults filled in. Raises
    ``ValidationError({"kind"|"target"|"port"|"params": [messages]})`` naming every problem;
    a message about a setting starts with its key (``"max_redirects: must be …"``)."""
    if kind not in CLEANERS:
        known = ", ".join(CheckKind.values)
        raise ValidationError({"kind": f"Unknown check kind {kind!r}. Use one of: {known}."})
    if params in (None, ""):
        params = {}
    if not isinstance(params, dict):
        raise ValidationError({"params": "Expected an object of settings for the check's kind."})
    if isinstance(target, str) and len(target) > TARGET_MAX:
        raise ValidationError({"target": f"At most {TARGET_MAX} characters."})
    kind = CheckKind(kind)
    unknown = sorted(str(key) for key in params if key not in KEYS[kind])
    cleaner = _Cleaner(params)
    if unknown:
        known = ", ".join(KEYS[kind])
        cleaner.error("params", f"Unknown setting(s) for a {kind} check: {', '.join(unknown)} (known: {known}).")
    target, port = CLEANERS[kind](cleaner, target, port)
    if cleaner.errors:
        raise ValidationError(cleaner.errors)
    return target, port, cleaner.out
