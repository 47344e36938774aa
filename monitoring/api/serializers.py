"""Serializers of ``/api/v1/monitoring/…``.

Checks, maintenance windows and integrations are written through their services
(``monitoring.services``): the serializers check field types, the services validate the whole
write (a check's parameters per kind, a window's schedule) and their errors become 400s naming the
field. Zones and metric rules are saved by the serializer (the model's validation, plus
``metrics.validate_rule``). A check's runtime state is read-only. The inbound payloads
(Alertmanager, events, metric samples) are validated by their services, which name the bad item
(``alerts[3].startsAt``); the serializers of those payloads below only document them.
"""

from django.conf import settings
from django.urls import NoReverseMatch, reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.serializers import BriefUserSerializer
from cmdb.api.serializers import BriefCISerializer, IdOrSlugRelatedField
from cmdb.models import CI, CIClass
from incidents.api.serializers import BriefIncidentSerializer
from itom.api.serializers import ValidatedModelSerializer, web_url
from monitoring.choices import AlertStatus, CheckKind, ResultStatus
from monitoring.models import (
    Alert,
    Check,
    CheckResult,
    CheckRollup,
    Integration,
    MaintenanceWindow,
    MetricRule,
    MetricSample,
    Zone,
)
from monitoring.services import checks, maintenance, rules

INGEST_PATHS = {
    "alertmanager": "monitoring-ingest-alertmanager",
    "events": "monitoring-ingest-events",
    "metrics": "monitoring-metrics",
}


def _url(obj) -> str:
    return web_url(obj)


def absolute(request, path):
    """``path`` on the portal's public address (``PORTAL_URL``), else on the request's host."""
    if settings.PORTAL_URL:
        return settings.PORTAL_URL.rstrip("/") + path
    return request.build_absolute_uri(path) if request is not None else path


# --- zones -------------------------------------------------------------------------------------


class ZoneSerializer(ValidatedModelSerializer):
    """A network the poller reaches from one place; its checks go to the queue ``poll.<name>``."""

    queue = serializers.CharField(read_only=True, help_text="The Celery queue of its checks: poll.<name>.")
    checks = serializers.IntegerField(source="check_count", read_only=True, default=0)

    class Meta:
        model = Zone
        fields = ["id", "display", "name", "description", "queue", "checks", "created_at", "updated_at"]


# --- checks ------------------------------------------------------------------------------------


class PingURLsSerializer(serializers.Serializer):
    success = serializers.URLField()
    start = serializers.URLField()
    fail = serializers.URLField()


# The poller's fields, read-only (the lease is the engine's business).
RUNTIME_FIELDS = [name for name in Check.RUNTIME_FIELDS if name != "claimed_until"]


class CheckSerializer(serializers.ModelSerializer):
    """A check, with its runtime state (read-only, written by the poller) and, for a heartbeat,
    the URLs its job calls (``ping_urls``)."""

    display = serializers.SerializerMethodField()
    ci = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), help_text="The CI it watches (id).")
    ci_name = serializers.CharField(source="ci.name", read_only=True)
    zone = IdOrSlugRelatedField(
        queryset=Zone.objects.all(),
        slug_field="name",
        required=False,
        help_text='Its id, or its name when writing; default "default".',
    )
    zone_name = serializers.CharField(source="zone.name", read_only=True)
    params = serializers.JSONField(
        required=False, help_text='The kind\'s settings (docs/monitoring.md), e.g. {"expected_status": ["200-299"]}.'
    )
    ping_urls = serializers.SerializerMethodField(help_text="A heartbeat's ping URLs (null for other kinds).")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Check
        fields = [
            "id",
            "display",
            *checks.FIELDS,
            "ci_name",
            "zone_name",
            "uuid",
            "ping_urls",
            *RUNTIME_FIELDS,
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["uuid", *RUNTIME_FIELDS]
        extra_kwargs = {"name": {"required": False}, "kind": {"required": False}}

    def get_display(self, check) -> str:
        return str(check)

    def get_web_url(self, check) -> str:
        return _url(check)

    @extend_schema_field(PingURLsSerializer(allow_null=True))
    def get_ping_urls(self, check):
        if check.kind != CheckKind.HEARTBEAT:
            return None
        request = self.context.get("request")
        urls = {}
        for signal in ("success", "start", "fail"):
            try:
                path = reverse(f"ping:{signal}", args=[str(check.uuid)])
            except NoReverseMatch:  # the ping URLs are not mounted here
                path = f"/ping/{check.uuid}" + ("" if signal == "success" else f"/{signal}")
            urls[signal] = absolute(request, path)
        return urls


class CheckTestSerializer(CheckSerializer):
    """The fields of a check to try out (none required but ``kind``; nothing is saved)."""

    ci = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), required=False, allow_null=True)


class OutcomeSerializer(serializers.Serializer):
    """What one run of a check found (nothing is stored)."""

    status = serializers.ChoiceField(choices=ResultStatus.choices)
    latency_ms = serializers.FloatField(allow_null=True)
    message = serializers.CharField()
    started_at = serializers.DateTimeField()


class CheckResultSerializer(serializers.ModelSerializer):
    check = serializers.IntegerField(source="monitor_id", read_only=True)

    class Meta:
        model = CheckResult
        fields = ["id", "check", "at", "status", "latency_ms", "message", "lag_ms", "state"]
        read_only_fields = fields


class CheckRollupSerializer(serializers.ModelSerializer):
    check = serializers.IntegerField(source="monitor_id", read_only=True)
    uptime = serializers.SerializerMethodField(help_text="Successful runs in the hour, %.")

    class Meta:
        model = CheckRollup
        fields = [
            "check",
            "hour",
            "count",
            "failures",
            "uptime",
            "latency_min",
            "latency_avg",
            "latency_p95",
            "latency_max",
        ]
        read_only_fields = fields

    def get_uptime(self, rollup) -> float | None:
        if not rollup.count:
            return None
        return round(100.0 * (rollup.count - rollup.failures) / rollup.count, 3)


# --- alerts ------------------------------------------------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    """One problem however often reported: firing until it resolves."""

    display = serializers.SerializerMethodField()
    ci = BriefCISerializer(read_only=True, allow_null=True)
    check = serializers.PrimaryKeyRelatedField(source="monitor", read_only=True, help_text="The check (id), if any.")
    incident = BriefIncidentSerializer(read_only=True, allow_null=True)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "display",
            "fingerprint",
            "source",
            "status",
            "name",
            "summary",
            "severity",
            "labels",
            "annotations",
            "ci",
            "check",
            "rule",
            "integration",
            "first_seen",
            "last_seen",
            "resolved_at",
            "occurrences",
            "incident",
            "suppressed",
            "suppressed_by_change",
            "suppressed_by_window",
            "parent",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_display(self, alert) -> str:
        return str(alert)

    def get_web_url(self, alert) -> str:
        return _url(alert)


# --- maintenance windows -----------------------------------------------------------------------


@extend_schema_field({"type": "array", "items": {"type": "string"}})
class TagNamesField(serializers.Field):
    """Tags read as their names, written as names or ids (unknown ones are a 400)."""

    def to_representation(self, value):
        return [tag.name for tag in value.all()]

    def to_internal_value(self, data):
        if not isinstance(data, list) or any(isinstance(v, bool) or not isinstance(v, (str, int)) for v in data):
            raise serializers.ValidationError("Expected a list of tag names or ids.")
        return data


class MaintenanceWindowSerializer(serializers.ModelSerializer):
    """A maintenance window: what it covers (``cis``, ``ci_classes`` — ids or slugs, with their
    subclasses — and ``tags``) and when: one-off ``start`` … ``end``, or weekly on ``weekdays``
    (0 = Monday) from ``start_time`` for ``duration_minutes``, from ``start``'s day to ``end``'s."""

    display = serializers.SerializerMethodField()
    cis = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), many=True, required=False)
    ci_classes = IdOrSlugRelatedField(queryset=CIClass.objects.all(), many=True, required=False)
    tags = TagNamesField(required=False)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, help_text="0 = Monday … 6 = Sunday."
    )
    in_effect = serializers.SerializerMethodField(help_text="Whether it covers its CIs right now.")
    created_by = BriefUserSerializer(read_only=True, allow_null=True)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = MaintenanceWindow
        fields = [
            "id",
            "display",
            *maintenance.WINDOW_FIELDS,
            "in_effect",
            "created_by",
            "web_url",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"name": {"required": False}, "start": {"required": False}}

    def get_display(self, window) -> str:
        return str(window)

    def get_web_url(self, window) -> str:
        return _url(window)

    def get_in_effect(self, window) -> bool:
        from monitoring import selectors

        return bool(window.active and selectors.window_is_active(window))


# --- integrations ------------------------------------------------------------------------------


class IntegrationSerializer(ValidatedModelSerializer):
    """A sender of alerts, events or metrics. Its token is shown once (``token``, when it is
    created or rotated); ``token_prefix`` tells tokens apart."""

    created_by = BriefUserSerializer(read_only=True, allow_null=True)
    endpoint = serializers.SerializerMethodField(help_text="Where it sends (POST, Authorization: Bearer <token>).")
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id",
            "display",
            "name",
            "kind",
            "enabled",
            "requests_per_minute",
            "items_per_minute",
            "default_severity",
            "token_prefix",
            "last_used_at",
            "endpoint",
            "created_by",
            "web_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["token_prefix", "last_used_at"]

    def get_endpoint(self, integration) -> str:
        try:
            path = reverse(f"api:{INGEST_PATHS[integration.kind]}")
        except (KeyError, NoReverseMatch):
            return ""
        return absolute(self.context.get("request"), path)

    def get_web_url(self, integration) -> str:
        return _url(integration)


class IntegrationTokenSerializer(IntegrationSerializer):
    token = serializers.CharField(read_only=True, help_text="The token: shown this once, store it now.")

    class Meta(IntegrationSerializer.Meta):
        fields = [*IntegrationSerializer.Meta.fields, "token"]


# --- metric rules and samples ------------------------------------------------------------------


class MetricRuleSerializer(ValidatedModelSerializer):
    """A rule over pushed metrics: ``threshold`` (``operator`` ``threshold`` for ``for_minutes``
    → an alert of the rule's severity) or ``baseline`` (the latest value more than
    ``mad_factor`` scaled MADs from the median of the last ``window_minutes``, with at least
    ``min_samples`` values → a warning alert). ``ci`` empty: every CI."""

    ci = serializers.PrimaryKeyRelatedField(queryset=CI.objects.all(), allow_null=True, required=False)
    web_url = serializers.SerializerMethodField()

    class Meta:
        model = MetricRule
        fields = ["id", "display", *rules.FIELDS, "web_url", "created_at", "updated_at"]

    def get_web_url(self, rule) -> str:
        return _url(rule)


class MetricSampleSerializer(serializers.ModelSerializer):
    class Meta:
        model = MetricSample
        fields = ["id", "ci", "name", "value", "unit", "time"]
        read_only_fields = fields


# --- inbound payloads (documentation: the services validate them) -----------------------------


class PushedSampleSerializer(serializers.Serializer):
    ci = serializers.JSONField(help_text="The CI: its id, name or FQDN.")
    name = serializers.CharField(help_text="The metric, e.g. cpu.percent (letters, digits, _ . : / -).")
    value = serializers.FloatField()
    unit = serializers.CharField(required=False, help_text="e.g. %, ms, bytes.")
    time = serializers.DateTimeField(required=False, help_text="ISO 8601 with a zone (or epoch seconds); default now.")


class PushMetricsSerializer(serializers.Serializer):
    samples = PushedSampleSerializer(many=True)


class PushedMetricsSerializer(serializers.Serializer):
    stored = serializers.IntegerField(help_text="Samples stored.")


class AlertmanagerAlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    labels = serializers.DictField(child=serializers.CharField())
    annotations = serializers.DictField(child=serializers.CharField(), required=False)
    startsAt = serializers.DateTimeField()
    endsAt = serializers.DateTimeField(required=False)
    generatorURL = serializers.CharField(required=False)
    fingerprint = serializers.CharField()


class AlertmanagerPayloadSerializer(serializers.Serializer):
    """Prometheus Alertmanager's webhook, version 4."""

    version = serializers.CharField(help_text='"4".')
    groupKey = serializers.CharField()
    truncatedAlerts = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=AlertStatus.choices)
    receiver = serializers.CharField(required=False)
    groupLabels = serializers.DictField(child=serializers.CharField(), required=False)
    commonLabels = serializers.DictField(child=serializers.CharField(), required=False)
    commonAnnotations = serializers.DictField(child=serializers.CharField(), required=False)
    externalURL = serializers.CharField(required=False)
    alerts = AlertmanagerAlertSerializer(many=True)


class EventSerializer(serializers.Serializer):
    fingerprint = serializers.CharField(help_text="What identifies the problem (or `key`).")
    status = serializers.ChoiceField(choices=AlertStatus.choices, required=False, help_text="Default firing.")
    name = serializers.CharField(required=False, help_text="Required when firing.")
    summary = serializers.CharField(required=False)
    severity = serializers.CharField(required=False, help_text="critical, major, minor, warning or info.")
    ci = serializers.JSONField(required=False, help_text="The CI: its id, name, FQDN or IP address.")
    labels = serializers.DictField(child=serializers.CharField(), required=False)
    time = serializers.DateTimeField(required=False)


class EventsPayloadSerializer(serializers.Serializer):
    events = EventSerializer(many=True)


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField(help_text="Alerts or events in the request.")
    firing = serializers.IntegerField()
    resolved = serializers.IntegerField()
    alerts = serializers.IntegerField(help_text="Distinct fingerprints.")
    incidents_opened = serializers.IntegerField()


class RateLimitedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    limit = serializers.ChoiceField(choices=[("requests_per_minute",) * 2, ("items_per_minute",) * 2])
    allowed = serializers.IntegerField()
