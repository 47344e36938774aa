"""Forms of the monitoring pages: the check form (a CI picked by search, the kind's own settings
as plain fields that become the check's ``params``), the maintenance-window form (CIs picked by
search, classes, tags; one-off or weekly), the integration form and the metric-rule form.

The forms check the shape of the input; the rules (what a kind's parameters may be, which
targets are refused, the interval's floor, a window's period) are ``monitoring.services``' and
``monitoring.params``', whose ``ValidationError`` lands on the field it names (``errors_to_form``
with ``ERROR_ALIASES``; a parameter's error on its field via ``param_error_aliases``).
"""

import re

from django import forms
from django.conf import settings
from django.urls import reverse

from cmdb.models import CI, CIClass, Tag
from monitoring.choices import CheckKind, Recurrence
from monitoring.models import Check, Integration, MetricRule, Zone
from monitoring.services import checks, maintenance
from monitoring.services.rules import FIELDS as RULE_FIELDS

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "OPTIONS"]
DNS_RECORD_TYPES = ["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SRV", "PTR", "SOA"]


def datetime_field(**kwargs):
    return forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_FORMAT), **kwargs
    )


def _int(**kwargs):
    return forms.IntegerField(required=False, **kwargs)


def _text(max_length=500, **kwargs):
    return forms.CharField(required=False, max_length=max_length, **kwargs)


def _flag(initial=False, **kwargs):
    return forms.BooleanField(required=False, initial=initial, **kwargs)


def _lines(value):
    """The non-empty lines (or comma-separated items) of a text."""
    return [part.strip() for part in re.split(r"[\n,]", value or "") if part.strip()]


def _statuses(value):
    """ "200-299, 301" → ["200-299", 301] (numbers as numbers, ranges as text)."""
    return [int(part) if part.isdigit() else part for part in _lines(value)]


def _show_statuses(value):
    return ", ".join(str(part) for part in value or [])


def _headers(value):
    headers = {}
    for line in (value or "").splitlines():
        if not line.strip():
            continue
        name, sep, content = line.partition(":")
        if not sep or not name.strip():
            raise forms.ValidationError(f"“{line.strip()}” is not a header: write one “Name: value” a line.")
        headers[name.strip()] = content.strip()
    return headers


def _show_headers(value):
    return "\n".join(f"{name}: {content}" for name, content in (value or {}).items())


def _show_lines(value):
    return "\n".join(str(part) for part in value or [])


def _same(value):
    return value


# A kind's parameters: (form field, ``params`` key, form text → value, value → form text). An
# empty text or number is left out of ``params`` (the kind's default applies); a checkbox is sent
# as it is.
PARAM_FIELDS = {
    CheckKind.ICMP: [("icmp_count", "count", _same, _same)],
    CheckKind.TCP: [("tcp_send", "send", _same, _same), ("tcp_expect", "expect", _same, _same)],
    CheckKind.HTTP: [
        ("http_method", "method", _same, _same),
        ("http_expected_status", "expected_status", _statuses, _show_statuses),
        ("http_keyword", "keyword", _same, _same),
        ("http_keyword_absent", "keyword_absent", _same, _same),
        ("http_headers", "headers", _headers, _show_headers),
        ("http_body", "body", _same, _same),
        ("http_latency_warning_ms", "latency_warning_ms", _same, _same),
        ("http_max_redirects", "max_redirects", _same, _same),
        ("http_verify_tls", "verify_tls", _same, _same),
    ],
    CheckKind.TLS: [
        ("tls_warning_days", "warning_days", _same, _same),
        ("tls_critical_days", "critical_days", _same, _same),
        ("tls_server_name", "server_name", _same, _same),
        ("tls_verify_chain", "verify_chain", _same, _same),
        ("tls_ca_file", "ca_file", _same, _same),
    ],
    CheckKind.DNS: [
        ("dns_record_type", "record_type", _same, _same),
        ("dns_expected", "expected", _lines, _show_lines),
        ("dns_nameserver", "nameserver", _same, _same),
    ],
    CheckKind.HEARTBEAT: [("heartbeat_period", "period", _same, _same), ("heartbeat_grace", "grace", _same, _same)],
}
PARAM_FIELD_NAMES = {name for fields in PARAM_FIELDS.values() for name, *_ in fields}
# The check's own fields, as ``create_check`` / ``update_check`` take them (``params`` is built
# from the kind's fields above).
CHECK_FIELDS = tuple(name for name in checks.FIELDS if name != "params")


class SingleCIMixin:
    """One CI picked with the CMDB search: ``ci`` (the pick's id, hidden) and ``ci_search`` (the
    search box). Without a pick, a name that matches exactly one CI is taken."""

    ci_required = True

    def setup_ci_picker(self, results_id):
        self.fields["ci_search"].widget.attrs.update(
            {
                "placeholder": "Search CIs by name or FQDN",
                "autocomplete": "off",
                "hx-get": reverse("cmdb:ci_search"),
                # The search answers ``q``; only the box's text is sent.
                "hx-params": "q",
                "hx-vals": f'js:{{q: document.getElementById("{self["ci_search"].auto_id}").value}}',
                "hx-trigger": "input changed delay:250ms",
                "hx-target": f"#{results_id}",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        )

    def initial_ci_search(self):
        ci_id = self.initial.get("ci")
        if ci_id and not self.initial.get("ci_search"):
            ci = CI.objects.filter(pk=getattr(ci_id, "pk", ci_id)).only("name").first()
            if ci is not None:
                self.initial["ci_search"] = ci.name

    def clean_picked_ci(self, cleaned):
        ci, text = cleaned.get("ci"), (cleaned.get("ci_search") or "").strip()
        if ci is not None:
            if text and text != ci.name:
                # The box was edited after the pick: the text wins.
                ci = None
            else:
                return ci
        if "ci" in self.errors:
            self.errors.pop("ci")
            if not text:
                self.add_error("ci_search", "That CI no longer exists.")
                return None
        if not text:
            if self.ci_required:
                self.add_error("ci_search", "Pick the CI.")
            return None
        matches = list(CI.objects.filter(name__iexact=text)[:2])
        if not matches:
            self.add_error("ci_search", f"No CI is named “{text}”: pick one from the search results.")
            return None
        if len(matches) > 1:
            self.add_error("ci_search", f"Several CIs are named “{text}”: pick one from the search results.")
            return None
        return matches[0]


class CheckForm(SingleCIMixin, forms.Form):
    """A check: what to watch, how often, and its kind's parameters. ``check`` is the check being
    edited (None: a new one)."""

    name = forms.CharField(max_length=200)
    ci = forms.ModelChoiceField(queryset=CI.objects.all(), required=False, widget=forms.HiddenInput)
    ci_search = forms.CharField(label="CI", required=False, max_length=200, help_text="The CI the check watches.")
    kind = forms.ChoiceField(choices=CheckKind.choices, initial=CheckKind.TCP)
    target = forms.CharField(
        required=False,
        max_length=500,
        help_text="Host name or IP; a URL for HTTP; the name to query for DNS.",
    )
    port = forms.IntegerField(required=False, help_text="TCP: required. TLS: 443 when empty. DNS: 53 when empty.")
    interval = forms.IntegerField(initial=60, help_text="Seconds between runs.")
    timeout = forms.FloatField(initial=10, help_text="Seconds before a run gives up (at most 60).")
    max_attempts = forms.IntegerField(initial=3, help_text="Failures in a row before the problem is hard (and alerts).")
    retry_interval = forms.IntegerField(initial=30, help_text="Seconds between runs while a problem is soft.")
    recovery_threshold = forms.IntegerField(initial=2, help_text="Successes in a row that resolve the alert.")
    auto_resolve = _flag(
        initial=True, label="Resolve the incident on recovery", help_text="Unless somebody has taken it over."
    )
    severity = forms.ChoiceField(choices=Check._meta.get_field("severity").choices, initial="major")
    zone = forms.ModelChoiceField(queryset=Zone.objects.order_by("name"), empty_label=None)
    enabled = _flag(initial=True)

    # ICMP
    icmp_count = _int(label="Pings", min_value=1, max_value=5, help_text="1–5 echo requests (3 when empty).")
    # TCP
    tcp_send = _text(label="Send", help_text="Text to send once connected (optional).")
    tcp_expect = _text(label="Expect", help_text="Text the answer must contain (optional).")
    # HTTP
    http_method = forms.ChoiceField(label="Method", required=False, choices=[(m, m) for m in HTTP_METHODS])
    http_expected_status = _text(
        label="Expected status codes", help_text="Codes or ranges, comma-separated (200-399 when empty)."
    )
    http_keyword = _text(label="Keyword", help_text="Text the body must contain (optional).")
    http_keyword_absent = _flag(label="Alert when the keyword is present instead")
    http_headers = _text(
        max_length=4000,
        label="Request headers",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One “Name: value” a line.",
    )
    http_body = _text(max_length=10000, label="Request body", widget=forms.Textarea(attrs={"rows": 2}))
    http_latency_warning_ms = _int(
        label="Warn above (ms)", min_value=1, help_text="A slower answer is a warning (optional)."
    )
    http_max_redirects = _int(label="Redirects followed", min_value=0, max_value=10, help_text="0–10 (5 when empty).")
    http_verify_tls = _flag(initial=True, label="Verify the TLS certificate")
    # TLS
    tls_warning_days = _int(label="Warn days before expiry", min_value=0, help_text="21 when empty.")
    tls_critical_days = _int(label="Critical days before expiry", min_value=0, help_text="7 when empty.")
    tls_server_name = _text(
        max_length=255, label="Server name", help_text="The name to verify (the target when empty)."
    )
    tls_verify_chain = _flag(initial=True, label="Verify the certificate chain")
    tls_ca_file = _text(label="CA bundle (path on the worker)")
    # DNS
    dns_record_type = forms.ChoiceField(
        label="Record type", required=False, choices=[(t, t) for t in DNS_RECORD_TYPES], initial="A"
    )
    dns_expected = _text(
        max_length=4000,
        label="Expected answers",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One a line: the answer must contain all of them (optional).",
    )
    dns_nameserver = _text(max_length=100, label="Name server", help_text="An IP address (the system's when empty).")
    # Heartbeat
    heartbeat_period = _int(label="Period (seconds)", min_value=1, help_text="How often the job pings (at least 10).")
    heartbeat_grace = _int(label="Grace (seconds)", min_value=0, help_text="How late a ping may be.")

    # The service's field names → the form's.
    ERROR_ALIASES = {"ci": "ci_search"}

    def __init__(self, *args, check=None, testing=False, **kwargs):
        self.check_obj = check
        self.ci_required = not testing  # "Test now" needs neither a name nor a CI
        initial = kwargs.setdefault("initial", {})
        if check is not None:
            for name in CHECK_FIELDS:
                initial.setdefault(name, getattr(check, f"{name}_id" if name in ("ci", "zone") else name))
            initial.setdefault("ci_search", check.ci.name if check.ci_id else "")
            for name, key, _, show in PARAM_FIELDS.get(check.kind, ()):
                if key == "server_name" and check.params.get(key) == check.target:
                    continue  # the default: it follows the target
                if key in check.params:
                    initial.setdefault(name, show(check.params[key]))
        super().__init__(*args, **kwargs)
        if not self.initial.get("zone"):
            zone = Zone.objects.filter(name="default").first()
            if zone is not None:
                self.initial["zone"] = zone.pk
        self.fields["interval"].min_value = None
        self.fields["interval"].help_text = f"Seconds between runs (at least {settings.MONITORING_MIN_INTERVAL})."
        self.initial_ci_search()
        self.setup_ci_picker("check-ci-results")
        self.fields["kind"].widget.attrs["data-kind-select"] = "1"
        if testing:
            self.fields["name"].required = False

    # --- the kind's parameters ---

    @property
    def chosen_kind(self):
        if self.is_bound:
            return self.data.get(self.add_prefix("kind"), "")
        return self.initial.get("kind", self.fields["kind"].initial)

    def param_groups(self):
        """``[(kind, label, [bound fields])]`` for the template: one fieldset per kind."""
        return [
            (kind, CheckKind(kind).label, [self[name] for name, *_ in fields]) for kind, fields in PARAM_FIELDS.items()
        ]

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        # Only the chosen kind's parameters count: another kind's (hidden) input is ignored.
        for name in PARAM_FIELD_NAMES:
            if all(name != f for f, *_ in PARAM_FIELDS.get(kind, ())):
                self.errors.pop(name, None)
                cleaned.pop(name, None)
        cleaned["ci"] = self.clean_picked_ci(cleaned)
        params = {}
        for name, key, read, _ in PARAM_FIELDS.get(kind, ()):
            if name in self.errors:
                continue
            value = cleaned.get(name)
            if isinstance(self.fields[name], forms.BooleanField):
                params[key] = bool(value)
                continue
            if value in (None, ""):
                continue
            try:
                value = read(value)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
                continue
            if value in ([], {}):
                continue
            params[key] = value
        cleaned["params"] = params
        return cleaned

    def service_fields(self):
        """What ``create_check`` / ``test_check`` take."""
        data = self.cleaned_data
        fields = {name: data.get(name) for name in CHECK_FIELDS}
        fields["target"] = (fields["target"] or "").strip()
        fields["params"] = data["params"]
        return fields

    def changed_fields(self):
        """What an edit changed, for ``update_check``."""
        check, fields = self.check_obj, self.service_fields()
        changed = {}
        for name, value in fields.items():
            current = getattr(check, name)
            if name == "params":
                current = check.params
            if value != current:
                changed[name] = value
        return changed

    def error_aliases(self):
        """The service's names (``params.<key>``) → the form's fields, for the chosen kind."""
        aliases = dict(self.ERROR_ALIASES)
        for name, key, *_ in PARAM_FIELDS.get(self.cleaned_data.get("kind") or self.chosen_kind, ()):
            aliases[f"params.{key}"] = name
        return aliases

    def param_field_for_message(self, message):
        """``(field, message)``: the chosen kind's parameter a ``params`` message is about (it starts
        with the key: "max_redirects: must be …") and the message without the key; else
        ``(None, message)``."""
        key, sep, rest = message.partition(":")
        if sep:
            for name, param_key, *_ in PARAM_FIELDS.get(self.cleaned_data.get("kind") or self.chosen_kind, ()):
                if key.strip() == param_key:
                    rest = rest.strip()
                    return name, rest[:1].upper() + rest[1:]
        return None, message


def check_errors_to_form(form, exc):
    """A ``ValidationError`` of the check services on the check form: each message on the field
    it names; a ``params`` message on the parameter it names; the rest on top."""
    aliases = form.error_aliases()
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, messages in errors.items():
        for message in messages:
            target = aliases.get(field, field)
            if field == "params":
                target, message = form.param_field_for_message(message)
            form.add_error(target if target in form.fields else None, message)


class MaintenanceWindowForm(forms.Form):
    """A maintenance window: what it covers (CIs picked by search, classes, tags) and when (a
    one-off period, or weekly days and a start time with a duration between a first and an
    optional last day)."""

    name = forms.CharField(max_length=200)
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    cis = forms.ModelMultipleChoiceField(
        queryset=CI.objects.all(),
        required=False,
        label="CIs",
        widget=forms.MultipleHiddenInput,
        help_text="Their checks are in maintenance while the window runs.",
    )
    ci_classes = forms.ModelMultipleChoiceField(
        queryset=CIClass.objects.none(),
        required=False,
        label="CI classes",
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Every CI of these classes (and their subclasses).",
    )
    tags = forms.ModelMultipleChoiceField(
        queryset=Tag.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Every CI with one of these tags.",
    )
    recurrence = forms.ChoiceField(choices=Recurrence.choices, initial=Recurrence.ONCE)
    start = datetime_field(
        required=False, help_text="One-off: when it starts. Weekly: the first day it may run (today when empty)."
    )
    end = datetime_field(required=False, help_text="One-off: when it ends. Weekly: the last day (optional).")
    weekdays = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, required=False, widget=forms.CheckboxSelectMultiple, label="Days"
    )
    start_time = forms.TimeField(
        required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"), label="Starts at"
    )
    duration_minutes = forms.IntegerField(required=False, min_value=1, label="Duration (minutes)")
    active = forms.BooleanField(required=False, initial=True)

    FIELDS = maintenance.WINDOW_FIELDS

    def __init__(self, *args, window=None, **kwargs):
        self.window = window
        if window is not None:
            initial = kwargs.setdefault("initial", {})
            for name in self.FIELDS:
                value = getattr(window, name)
                if name in ("cis", "ci_classes", "tags"):
                    value = [obj.pk for obj in value.all()]
                initial.setdefault(name, value)
        super().__init__(*args, **kwargs)
        self.fields["ci_classes"].queryset = CIClass.objects.order_by("name")
        self.fields["tags"].queryset = Tag.objects.order_by("name")

    def chosen_cis(self):
        raw = self["cis"].value() or []
        ids = [int(value) for value in raw if str(value).isdigit()]
        if not ids:
            return []
        return list(CI.objects.filter(pk__in=ids).select_related("ci_class").order_by("name"))

    def service_fields(self):
        data = self.cleaned_data
        fields = {name: data.get(name) for name in self.FIELDS}
        for name in ("cis", "ci_classes", "tags"):
            fields[name] = list(fields[name] or [])
        fields["weekdays"] = sorted(fields["weekdays"] or [])
        if fields["recurrence"] == Recurrence.ONCE:
            fields.update(weekdays=[], start_time=None, duration_minutes=None)
        return fields


class IntegrationForm(forms.ModelForm):
    """A sender of alerts, events or metrics; its token is made by the service."""

    class Meta:
        model = Integration
        fields = ["name", "kind", "default_severity", "requests_per_minute", "items_per_minute", "enabled"]

    def service_fields(self):
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class MetricRuleForm(SingleCIMixin, forms.ModelForm):
    """A threshold or baseline rule over a pushed metric, for one CI (picked by search) or all."""

    ci_required = False
    ci_search = forms.CharField(
        label="CI", required=False, max_length=200, help_text="Empty: the rule watches the metric of every CI."
    )

    class Meta:
        model = MetricRule
        fields = list(RULE_FIELDS)
        widgets = {"ci": forms.HiddenInput}
        help_texts = {
            "metric": "The name the samples are pushed with, e.g. cpu.load.",
            "threshold": "Threshold rules: the value that is too high (above) or too low (below).",
            "for_minutes": "Threshold rules: how long the value must stay beyond the threshold.",
            "window_minutes": "Baseline rules: the rolling window the median and MAD come from.",
            "mad_factor": "Baseline rules: how many scaled MADs from the median is an anomaly.",
            "min_samples": "Baseline rules: samples the window needs before it judges.",
        }

    def service_fields(self):
        return {name: self.cleaned_data.get(name) for name in RULE_FIELDS}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ci"].required = False
        if self.instance.pk and self.instance.ci_id:
            self.initial.setdefault("ci_search", self.instance.ci.name)
        self.initial_ci_search()
        self.setup_ci_picker("rule-ci-results")
        self.order_fields(["name", "metric", "ci_search"])

    def clean(self):
        cleaned = super().clean()
        cleaned["ci"] = self.clean_picked_ci(cleaned)
        self.instance.ci = cleaned["ci"]
        return cleaned  # the cross-field rules are MetricRule.clean()'s (the form, the API and the admin)


__all__ = [
    "PARAM_FIELDS",
    "CheckForm",
    "IntegrationForm",
    "MaintenanceWindowForm",
    "MetricRuleForm",
    "check_errors_to_form",
]
