"""``/api/v1/monitoring/…``: zones, checks, alerts, maintenance windows, integrations, metric
rules, pushed metrics and the inbound alert endpoints.

Thin viewsets: checks, maintenance windows and integrations are written through
``monitoring.services``; the object a write acts on is locked and ``If-Match`` is checked, and the
whole request is one transaction rolled back on any error (``PortalViewSetMixin``). Everyone
signed in reads; agents write checks, maintenance windows and metric rules; managers zones and
integrations (``itom.roles``).

- ``zones/`` — the networks checks are polled from (queue ``poll.<name>``); the ``default`` zone
  can't be deleted, nor a zone with checks (409);
- ``checks/`` — ``{id}/results/`` (``?status=&since=&until=``, newest first), ``{id}/rollups/``
  (hourly), ``{id}/test/`` (POST: run it once — with the body's fields over its own, if any — and
  answer what it found; nothing is stored), ``test/`` (POST the fields of an unsaved check);
- ``alerts/`` — read-only;
- ``maintenance/`` — maintenance windows;
- ``integrations/`` — the token is in the answer to the create and to ``{id}/rotate/`` only;
- ``rules/`` — metric rules;
- ``metrics/`` — GET samples (``?ci=&name=&since=&until=``); POST ``{"samples": [...]}`` with an
  integration token of kind ``metrics`` or the API token of someone who may add samples (agents);
- ``ingest/alertmanager/``, ``ingest/events/`` — POST with an integration token of that kind
  (``Authorization: Bearer <token>``): 202 with counts; 400 naming the bad field (nothing
  processed); 401 unknown or disabled token; 403 a token of another kind; 429 over the
  integration's rate limit (``{"detail", "limit", "allowed"}``, ``Retry-After``; nothing processed).
"""

from datetime import UTC, datetime

from django.db.models import Count
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import APITokenAuthentication
from itom.api.permissions import RolePermission
from itom.api.viewsets import PortalModelViewSet, PortalReadOnlyViewSet
from monitoring.api.authentication import (
    IntegrationPermission,
    IntegrationTokenAuthentication,
)
from monitoring.api.serializers import (
    AlertmanagerPayloadSerializer,
    AlertSerializer,
    CheckResultSerializer,
    CheckRollupSerializer,
    CheckSerializer,
    CheckTestSerializer,
    EventsPayloadSerializer,
    IngestResultSerializer,
    IntegrationSerializer,
    IntegrationTokenSerializer,
    MaintenanceWindowSerializer,
    MetricRuleSerializer,
    MetricSampleSerializer,
    OutcomeSerializer,
    PushedMetricsSerializer,
    PushMetricsSerializer,
    RateLimitedSerializer,
    ZoneSerializer,
)
from monitoring.choices import AlertSource
from monitoring.filters import (
    AlertFilterSet,
    CheckFilterSet,
    CheckResultFilterSet,
    IntegrationFilterSet,
    MaintenanceWindowFilterSet,
    MetricRuleFilterSet,
    MetricSampleFilterSet,
    ZoneFilterSet,
)
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
from monitoring.services import checks, ingest, integrations, maintenance, metrics, rules, zones

RATE_LIMITED = OpenApiResponse(
    RateLimitedSerializer, description="Over the integration's rate limit (`Retry-After` says when to retry)."
)


def _outcome(outcome):
    started = datetime.fromtimestamp(outcome.started_at, tz=UTC) if outcome.started_at else datetime.now(tz=UTC)
    return OutcomeSerializer(
        {"status": outcome.status, "latency_ms": outcome.latency_ms, "message": outcome.message, "started_at": started}
    ).data


class ServiceWritesMixin:
    """Create, update and delete through ``monitoring.services``: ``create_object(user=, **fields)``,
    ``update_object(obj, user=, **fields)`` and ``delete_object(obj, user=)``; a write is answered
    with the row read again (``queryset``) and its ETag."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def _validated(self, instance=None, partial=False):
        params = self.get_serializer(instance, data=self.request.data, partial=partial)
        params.is_valid(raise_exception=True)
        return params.validated_data

    def _answer(self, obj, code=status.HTTP_200_OK):
        fresh = self.queryset.get(pk=obj.pk)
        return self._with_etag(Response(self.get_serializer(fresh).data, status=code), fresh)

    def create(self, request, *args, **kwargs):
        return self._answer(self.create_object(user=request.user, **self._validated()), status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        obj = self.get_object()
        return self._answer(self.update_object(obj, user=request.user, **self._validated(obj, partial=True)))

    def perform_destroy(self, obj):
        self.delete_object(obj, user=self.request.user)


# --- zones -------------------------------------------------------------------------------------


class ZoneViewSet(ServiceWritesMixin, PortalModelViewSet):
    """Zones: where checks are polled from. Managers write (through ``monitoring.services.zones``)."""

    queryset = Zone.objects.annotate(check_count=Count("checks")).order_by("name")
    serializer_class = ZoneSerializer
    filterset_class = ZoneFilterSet
    ordering_fields = ["name", "created_at", "updated_at"]
    create_object = staticmethod(zones.create_zone)
    update_object = staticmethod(zones.update_zone)
    delete_object = staticmethod(zones.delete_zone)


# --- checks ------------------------------------------------------------------------------------


class CheckViewSet(ServiceWritesMixin, PortalModelViewSet):
    """Checks with their runtime state. Agents write (through ``monitoring.services.checks``)."""

    queryset = Check.objects.select_related("ci", "zone")
    serializer_class = CheckSerializer
    filterset_class = CheckFilterSet
    ordering_fields = [
        "name",
        "state",
        "kind",
        "severity",
        "last_checked_at",
        "next_due_at",
        "created_at",
        "updated_at",
    ]
    lookup_value_regex = r"\d+"
    action_permissions = {"results": "view", "rollups": "view", "test": "change", "test_unsaved": "add"}
    create_object = staticmethod(checks.create_check)
    update_object = staticmethod(checks.update_check)
    delete_object = staticmethod(checks.delete_check)

    @extend_schema(
        responses=CheckResultSerializer(many=True),
        summary="The check's results, newest first",
        description="Raw results are kept for MONITORING_RESULT_RETENTION_DAYS; older hours are in `rollups/`.",
    )
    @action(
        detail=True,
        methods=["get"],
        filterset_class=CheckResultFilterSet,
        ordering_fields=["at"],
        queryset=CheckResult.objects.all(),
    )
    def results(self, request, pk=None):
        check = self._check(pk)
        results = self.filter_queryset(CheckResult.objects.filter(monitor=check).order_by("-at", "-id"))
        page = self.paginate_queryset(results)
        return self.get_paginated_response(CheckResultSerializer(page, many=True).data)

    @extend_schema(
        responses=CheckRollupSerializer(many=True),
        summary="The check's hourly rollups, newest first",
        description="Count, failures, uptime and latency per hour, kept for MONITORING_ROLLUP_RETENTION_DAYS.",
    )
    @action(detail=True, methods=["get"], filter_backends=[], queryset=CheckRollup.objects.all())
    def rollups(self, request, pk=None):
        check = self._check(pk)
        page = self.paginate_queryset(CheckRollup.objects.filter(monitor=check).order_by("-hour"))
        return self.get_paginated_response(CheckRollupSerializer(page, many=True).data)

    def _check(self, pk):
        """The check of a read action (its own queryset is the action's rows)."""
        return generics.get_object_or_404(Check.objects.only("id"), pk=pk)

    @extend_schema(
        request=CheckTestSerializer,
        responses={
            200: OutcomeSerializer,
            400: OpenApiResponse(description="A field is wrong, or the check is a heartbeat (it is pushed)."),
        },
        summary="Run the check once now",
        description="Runs the saved check once — with the fields in the body, if any, over its own — and answers "
        "what it found. Nothing is stored: no result, no state change, no alert.",
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        # Read, not locked: the run may take up to its timeout, and the poller must not wait for it.
        check = generics.get_object_or_404(Check.objects.select_related("ci", "zone"), pk=pk)
        params = CheckTestSerializer(check, data=request.data, partial=True, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        if not params.validated_data:
            return Response(_outcome(checks.run_now(check)))
        fields = {name: getattr(check, name) for name in checks.FIELDS}
        fields.update(params.validated_data)
        return Response(_outcome(checks.test_check(**fields)))

    @extend_schema(
        operation_id="monitoring_checks_test_unsaved",
        request=CheckTestSerializer,
        responses={
            200: OutcomeSerializer,
            400: OpenApiResponse(description="A field is wrong, or the check is a heartbeat (it is pushed)."),
        },
        summary="Try out an unsaved check",
        description="Validates the fields as a create would (the name and CI are optional), runs the check once "
        "and answers what it found. Nothing is stored.",
    )
    @action(detail=False, methods=["post"], url_path="test", url_name="test")
    def test_unsaved(self, request):
        params = CheckTestSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        params.is_valid(raise_exception=True)
        return Response(_outcome(checks.test_check(**params.validated_data)))


# --- alerts ------------------------------------------------------------------------------------


class AlertViewSet(PortalReadOnlyViewSet):
    """Alerts (read-only): checks, Alertmanager, events and metric rules raise and resolve them."""

    queryset = Alert.objects.select_related("ci", "incident")
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    ordering_fields = ["last_seen", "first_seen", "severity", "status", "occurrences", "name"]


# --- maintenance windows -----------------------------------------------------------------------


class MaintenanceWindowViewSet(ServiceWritesMixin, PortalModelViewSet):
    """Maintenance windows. Agents write (through ``monitoring.services.maintenance``)."""

    queryset = MaintenanceWindow.objects.select_related("created_by").prefetch_related("cis", "ci_classes", "tags")
    serializer_class = MaintenanceWindowSerializer
    filterset_class = MaintenanceWindowFilterSet
    ordering_fields = ["start", "end", "name", "created_at", "updated_at"]
    create_object = staticmethod(maintenance.create_window)
    update_object = staticmethod(maintenance.update_window)
    delete_object = staticmethod(maintenance.delete_window)


# --- integrations ------------------------------------------------------------------------------


class IntegrationViewSet(ServiceWritesMixin, PortalModelViewSet):
    """Inbound integrations and their tokens. Managers only write; the token is answered once."""

    queryset = Integration.objects.select_related("created_by")
    serializer_class = IntegrationSerializer
    filterset_class = IntegrationFilterSet
    ordering_fields = ["name", "kind", "last_used_at", "created_at", "updated_at"]
    action_permissions = {"rotate": "change"}
    update_object = staticmethod(integrations.update_integration)
    delete_object = staticmethod(integrations.delete_integration)

    def _with_token(self, integration, token, code=status.HTTP_200_OK):
        fresh = self.queryset.get(pk=integration.pk)
        fresh.token = token
        data = IntegrationTokenSerializer(fresh, context=self.get_serializer_context()).data
        return self._with_etag(Response(data, status=code), fresh)

    @extend_schema(
        responses={201: IntegrationTokenSerializer}, summary="Add an integration (its token is answered once)"
    )
    def create(self, request, *args, **kwargs):
        integration, token = integrations.create_integration(user=request.user, **self._validated())
        return self._with_token(integration, token, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        responses={200: IntegrationTokenSerializer},
        summary="Give the integration a new token",
        description="The old token stops working at once; the new one is answered this once.",
    )
    @action(detail=True, methods=["post"])
    def rotate(self, request, pk=None):
        integration, token = integrations.rotate_token(self.get_object(), user=request.user)
        return self._with_token(integration, token)


# --- metric rules ------------------------------------------------------------------------------


class MetricRuleViewSet(ServiceWritesMixin, PortalModelViewSet):
    """Rules over pushed metrics (threshold or baseline). Agents write (through
    ``monitoring.services.rules``)."""

    queryset = MetricRule.objects.all()
    serializer_class = MetricRuleSerializer
    filterset_class = MetricRuleFilterSet
    ordering_fields = ["metric", "name", "kind", "created_at", "updated_at"]
    create_object = staticmethod(rules.create_rule)
    update_object = staticmethod(rules.update_rule)
    delete_object = staticmethod(rules.delete_rule)


# --- pushed metrics ----------------------------------------------------------------------------


class MetricsPermission(BasePermission):
    """A metrics integration's token, or a person allowed to read (GET) or add (POST) samples."""

    def has_permission(self, request, view):
        if isinstance(request.auth, Integration):
            return IntegrationPermission().has_permission(request, view) and request.method == "POST"
        return RolePermission().has_permission(request, view)


class MetricsView(generics.GenericAPIView):
    """GET: stored samples, newest first. POST: push samples (see ``monitoring.services.metrics``)."""

    queryset = MetricSample.objects.all()
    serializer_class = MetricSampleSerializer
    filterset_class = MetricSampleFilterSet
    authentication_classes = [IntegrationTokenAuthentication, APITokenAuthentication, SessionAuthentication]
    accepts_user_tokens = True
    permission_classes = [MetricsPermission]
    integration_kind = "metrics"
    ordering_fields = ["time"]

    @extend_schema(responses=MetricSampleSerializer(many=True), summary="Pushed metric samples, newest first")
    def get(self, request):
        samples = self.filter_queryset(self.get_queryset().order_by("-time", "-id"))
        page = self.paginate_queryset(samples)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=PushMetricsSerializer,
        responses={
            202: PushedMetricsSerializer,
            400: OpenApiResponse(description="A bad sample, named like `samples[3].value`; nothing is stored."),
            401: OpenApiResponse(description="No, an unknown or a disabled token."),
            429: RATE_LIMITED,
        },
        summary="Push metric samples",
        description='`{"samples": [{"ci", "name", "value", "unit", "time"}]}` (at most '
        f"{metrics.MAX_SAMPLES}): `ci` an id, name or FQDN; `time` ISO 8601 with a zone or epoch seconds, default "
        "now. The rules watching the metrics run after they are stored.",
    )
    def post(self, request):
        payload = request.data
        samples = payload.get("samples") if isinstance(payload, dict) else payload
        integration = request.auth if isinstance(request.auth, Integration) else None
        rows = metrics.clean_samples(samples)
        if integration is not None:
            limited = _consume(integration, len(rows))
            if limited is not None:
                return limited
        stored = metrics.store(rows)
        return Response({"stored": stored}, status=status.HTTP_202_ACCEPTED)


# --- inbound alerts ----------------------------------------------------------------------------


def _consume(integration, items):
    """None when the request is within the integration's limits (and counted), else the 429."""
    try:
        integrations.consume(integration, items)
    except integrations.RateLimited as exc:
        return Response(
            {"detail": str(exc), "limit": exc.limit, "allowed": exc.allowed},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    return None


class IngestView(APIView):
    """Validate the whole payload (400, nothing processed), count it against the rate limit
    (429, nothing processed), then fire and resolve its alerts (202). ``parser``: the
    ``monitoring.services.ingest`` function that validates the payload into items."""

    authentication_classes = [IntegrationTokenAuthentication]
    permission_classes = [IntegrationPermission]
    integration_kind = ""
    source = ""
    parser = None

    def parse(self, payload, integration):
        return self.parser(payload, default_severity=integration.default_severity)

    def post(self, request):
        integration = request.auth
        items = self.parse(request.data, integration)
        limited = _consume(integration, len(items))
        if limited is not None:
            return limited
        counts = ingest.process(items, integration=integration, source=self.source)
        return Response(counts, status=status.HTTP_202_ACCEPTED)


INGEST_RESPONSES = {
    202: IngestResultSerializer,
    400: OpenApiResponse(description="Malformed JSON, or a bad field named like `alerts[3].startsAt`."),
    401: OpenApiResponse(description="No, an unknown or a disabled integration token."),
    403: OpenApiResponse(description="The token belongs to an integration of another kind."),
    429: RATE_LIMITED,
}


@extend_schema_view(
    post=extend_schema(
        request=AlertmanagerPayloadSerializer,
        responses=INGEST_RESPONSES,
        summary="Receive Prometheus Alertmanager's webhook (version 4)",
        description="Point an Alertmanager receiver's `webhook_configs` here with `http_config.authorization."
        "credentials` set to an alertmanager integration's token. Each alert fires or resolves the portal alert "
        "`am:<fingerprint>`; its CI is found from the labels `ci`, `instance`, `host`, `hostname` or `fqdn`.",
    )
)
class AlertmanagerIngestView(IngestView):
    integration_kind = "alertmanager"
    source = AlertSource.ALERTMANAGER
    parser = staticmethod(ingest.parse_alertmanager)


@extend_schema_view(
    post=extend_schema(
        request=EventsPayloadSerializer,
        responses=INGEST_RESPONSES,
        summary="Receive a batch of events",
        description='`{"events": [{"fingerprint" (or "key"), "status": "firing"|"resolved", "name", "summary", '
        '"severity", "ci", "labels", "time"}]}`: each fires or resolves the portal alert `ev:<fingerprint>`.',
    )
)
class EventsIngestView(IngestView):
    integration_kind = "events"
    source = AlertSource.EVENTS
    parser = staticmethod(ingest.parse_events)
