"""Inbound integrations (managers only: they hold tokens): the list, new (its token shown once, on
the page that answers the form), an integration's page (limits, use this minute, its recent
alerts, how to point Alertmanager, an event sender or a metrics pusher at it), edit, rotate the
token (the new one shown once), delete, and History.

Every write goes through ``monitoring.services.integrations``."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views import View

from itom.forms import errors_to_form
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
    PortalPermissionMixin,
)
from monitoring.choices import IntegrationKind
from monitoring.filters import IntegrationFilterSet
from monitoring.forms import IntegrationForm
from monitoring.models import Integration
from monitoring.views.checks import ANY_ENABLED_DISABLED

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


class IntegrationListView(ManagersOnly, ObjectListView):
    model = Integration
    filterset_class = IntegrationFilterSet
    template_name = "monitoring/integration_list.html"
    shown_filters = ("q", "kind", "enabled")
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

    def get_filterset(self):
        filterset = super().get_filterset()
        filterset.form.fields["enabled"].widget.choices = ANY_ENABLED_DISABLED
        return filterset

    def get_context_data(self, **kwargs):
        kwargs.update(title="Integrations", subnav="integrations", add_label="New integration")
        return super().get_context_data(**kwargs)


class IntegrationDetailView(ManagersOnly, ObjectDetailView):
    model = Integration
    template_name = "monitoring/integration_detail.html"

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        from monitoring.services.integrations import usage

        integration = self.object
        token = kwargs.get("new_token")
        kwargs.update(
            example=examples(integration, self.request, token),
            usage=usage(integration),
            alerts=list(integration.alerts.select_related("ci", "incident").order_by("-last_seen")[:ALERTS_SHOWN]),
            subnav="integrations",
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


class IntegrationCreateView(ManagersOnly, ObjectEditView):
    """New integration: the answer to the form is its page with the token, shown once."""

    model = Integration
    form_class = IntegrationForm
    template_name = "monitoring/integration_form.html"

    def form_valid(self, form):
        from monitoring.services import integrations as services

        try:
            with transaction.atomic():
                integration, token = services.create_integration(user=self.request.user, **form.service_fields())
        except ValidationError as exc:
            errors_to_form(form, exc)
            return self.form_invalid(form)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(
            self.request, f"Created integration “{integration}”. Copy its token now: it is not shown again."
        )
        return _with_token(self.request, integration, token)

    def get_context_data(self, **kwargs):
        kwargs["subnav"] = "integrations"
        return super().get_context_data(**kwargs)


class IntegrationEditView(ManagersOnly, ObjectEditView):
    model = Integration
    form_class = IntegrationForm
    template_name = "monitoring/integration_form.html"

    def save_form(self, form):
        from monitoring.services import integrations as services

        fields = {name: value for name, value in form.service_fields().items() if name in form.changed_data}
        integration = Integration.objects.get(pk=self.object.pk)
        if not fields:
            return integration
        try:
            return services.update_integration(integration, user=self.request.user, **fields)
        except PermissionDenied as exc:
            raise ValidationError(str(exc)) from None

    def get_success_url(self):
        return self.object.get_absolute_url()

    def get_context_data(self, **kwargs):
        kwargs["subnav"] = "integrations"
        return super().get_context_data(**kwargs)


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

    def get_success_url(self):
        return reverse("monitoring:integration_list")


class IntegrationHistoryView(ManagersOnly, ObjectHistoryView):
    model = Integration
    template_name = "monitoring/integration_history.html"

    def get_context_data(self, **kwargs):
        kwargs["subnav"] = "integrations"
        return super().get_context_data(**kwargs)
