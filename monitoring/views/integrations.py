"""Inbound integrations (managers only: they hold tokens): the list, new (its token shown once, on
the page that answers the form), an integration's page (limits, use this minute, its recent
alerts, how to point Alertmanager, an event sender or a metrics pusher at it), edit, rotate the
token (the new one shown once), delete, and History.

Every write goes through ``monitoring.services.integrations``."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    PortalPermissionMixin,
)
from monitoring.choices import IntegrationKind
from monitoring.filters import IntegrationFilterSet
from monitoring.forms import IntegrationForm
from monitoring.models import Integration
from monitoring.views.base import ANY_ENABLED_DISABLED, MonitoringListView, MonitoringPage

ALERTS_SHOWN = 20
TOKEN_PLACEHOLDER = "<token>"  # noqa: S105 - what the examples show in place of the token
# Where each kind of integration sends (DESIGN.md §4).
ENDPOINTS = {
    IntegrationKind.ALERTMANAGER: "/api/v1/monitoring/ingest/alertmanager/",
    IntegrationKind.EVENTS: "/api/v1/monitoring/ingest/events/",
    IntegrationKind.METRICS: "/api/v1/monitoring/metrics/",
}


class ManagersOnly:
    """Integrations are managers' (``monitoring.change_integration``) even to look at: viewers and
    agents hold ``view_integration`` for the API's read-outs of alerts, not these pages."""

    def get_permission_required(self):
        action = self.permission_action if self.permission_action in ("add", "delete") else "change"
        return [f"monitoring.{action}_integration"]


def portal_base(request):
    from django.conf import settings

    return (settings.PORTAL_URL or request.build_absolute_uri("/")).rstrip("/")


def examples(integration, request, token=None):
    """How to send to the integration: the endpoint and a copy-paste example for its kind."""
    base, token = portal_base(request), token or TOKEN_PLACEHOLDER
    if integration.kind == IntegrationKind.ALERTMANAGER:
        url = f"{base}{ENDPOINTS[IntegrationKind.ALERTMANAGER]}"
        snippet = (
            "receivers:\n"
            "  - name: itom-portal\n"
            "    webhook_configs:\n"
            f"      - url: {url}\n"
            "        send_resolved: true\n"
            "        http_config:\n"
            "          authorization:\n"
            "            type: Bearer\n"
            f"            credentials: {token}\n"
        )
        return {"url": url, "label": "alertmanager.yml", "snippet": snippet}
    if integration.kind == IntegrationKind.EVENTS:
        url = f"{base}{ENDPOINTS[IntegrationKind.EVENTS]}"
        body = (
            '{"events": [{"fingerprint": "disk-full-web-01", "status": "firing", "name": "Disk full",'
            ' "summary": "/var is 98% full", "severity": "major", "ci": "web-01"}]}'
        )
    else:
        url = f"{base}{ENDPOINTS[IntegrationKind.METRICS]}"
        body = '{"samples": [{"ci": "web-01", "name": "cpu.load", "value": 0.42, "unit": ""}]}'
    snippet = (
        f"curl -fsS -X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}' \\\n  {url}"
    )
    return {"url": url, "label": "curl", "snippet": snippet}


class IntegrationListView(ManagersOnly, MonitoringListView):
    model = Integration
    filterset_class = IntegrationFilterSet
    template_name = "monitoring/integration_list.html"
    subnav = "integrations"
    add_label = "New integration"
    shown_filters = ("q", "kind", "enabled")
    boolean_choices = {"enabled": ANY_ENABLED_DISABLED}
    columns = [
        Column("name", link=True),
        Column("kind"),
        Column("token_prefix", label="Token prefix"),
        Column("requests_per_minute", label="Requests / min"),
        Column("items_per_minute", label="Items / min"),
        Column("default_severity", label="Default severity"),
        Column("last_used_at", label="Last used"),
        Column("enabled"),
    ]


class IntegrationDetailView(ManagersOnly, MonitoringPage, ObjectDetailView):
    model = Integration
    template_name = "monitoring/integration_detail.html"
    subnav = "integrations"

    def get_context_data(self, **kwargs):
        from monitoring.services.integrations import usage

        integration = self.object
        token = kwargs.get("new_token")
        kwargs.update(
            example=examples(integration, self.request, token),
            usage=usage(integration),
            alerts=list(integration.alerts.select_related("ci", "incident").order_by("-last_seen")[:ALERTS_SHOWN]),
        )
        return super().get_context_data(**kwargs)


def _with_token(request, integration, token, status=200):
    """The integration's page showing its new token, this once (never cached)."""
    view = IntegrationDetailView()
    view.setup(request, pk=integration.pk)
    view.object = integration
    context = view.get_context_data(object=integration, new_token=token)
    response = render(request, view.template_name, context, status=status)
    response["Cache-Control"] = "no-store"
    return response


class IntegrationFormView(ManagersOnly, MonitoringPage, ObjectEditView):
    """The integration form; the service's refusals (a bad field, not a manager) on the form."""

    model = Integration
    form_class = IntegrationForm
    template_name = "monitoring/integration_form.html"
    subnav = "integrations"
    refusals = (ValidationError, PermissionDenied)


class IntegrationCreateView(IntegrationFormView):
    """New integration: the answer to the form is its page with the token, shown once."""

    def save_form(self, form):
        from monitoring.services import integrations as services

        integration, self.token = services.create_integration(user=self.request.user, **form.service_fields())
        return integration

    def saved(self):
        messages.success(
            self.request, f"Created integration “{self.object}”. Copy its token now: it is not shown again."
        )
        return _with_token(self.request, self.object, self.token)


class IntegrationEditView(IntegrationFormView):
    def save_form(self, form):
        from monitoring.services import integrations as services

        fields = {name: value for name, value in form.service_fields().items() if name in form.changed_data}
        integration = Integration.objects.get(pk=self.object.pk)
        if not fields:
            return integration
        return services.update_integration(integration, user=self.request.user, **fields)


class IntegrationRotateView(ManagersOnly, PortalPermissionMixin, View):
    """POST ``/monitoring/integrations/<id>/rotate/``: a new token (the old one stops at once)."""

    model = Integration
    permission_action = "change"

    def post(self, request, pk):
        from monitoring.services import integrations as services

        integration = get_object_or_404(Integration, pk=pk)
        try:
            with transaction.atomic():
                integration, token = services.rotate_token(integration, user=request.user)
        except PermissionDenied as exc:
            messages.error(request, str(exc))
            return redirect(integration.get_absolute_url())
        messages.success(request, "Rotated the token: the old one no longer works. Copy the new one now.")
        return _with_token(request, integration, token)


class IntegrationDeleteView(ManagersOnly, ObjectDeleteView):
    model = Integration

    def delete_object(self, obj):
        from monitoring.services import integrations as services

        services.delete_integration(obj, user=self.request.user)


class IntegrationHistoryView(ManagersOnly, MonitoringPage, ObjectHistoryView):
    model = Integration
    template_name = "monitoring/integration_history.html"
    subnav = "integrations"
