"""Pages of the notification core: everyone's own notification list and preferences, the bell's
count, and (managers) the outgoing webhooks with their delivery log."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from itom import notifications, webhooks
from itom.api.notifications import endpoints_with_last_delivery
from itom.choices import DeliveryState, NotificationChannel
from itom.filters_notifications import NotificationFilterSet, WebhookDeliveryFilterSet, WebhookEndpointFilterSet
from itom.forms import bootstrap_form
from itom.forms_notifications import WebhookEndpointForm
from itom.generic import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectHistoryView, ObjectListView
from itom.models import Notification, WebhookDelivery, WebhookEndpoint

NOTIFICATIONS_PER_PAGE = 25
SECRET_SESSION_KEY = "itom.webhook_secret"  # noqa: S105  (a session key, not a secret)
STATE_BADGES = {
    DeliveryState.PENDING: "secondary",
    DeliveryState.RETRYING: "warning",
    DeliveryState.SUCCEEDED: "success",
    DeliveryState.FAILED: "danger",
}


def can_manage_webhooks(user):
    return user.has_perm("itom.change_webhookendpoint")


# --- The notification list ----------------------------------------------------------------------


def _event_labels():
    return {event.key: event.label for event in notifications.events()}


@login_required
@require_safe
def notification_list(request):
    """The signed-in user's notifications, newest first: unread only (the default) or all, by
    event, searched; each opens its object (marking it read) or is marked read/unread in place."""
    params = request.GET.copy()
    show = params.get("show", "unread")
    if show not in ("unread", "all"):
        show = "unread"
    if show == "unread":
        params["unread"] = "true"
    base = Notification.objects.filter(recipient=request.user)
    filterset = NotificationFilterSet(params, queryset=base, request=request)
    bootstrap_form(filterset.form)
    queryset = filterset.qs.order_by("-created_at", "-id") if filterset.is_valid() else base.none()
    page = Paginator(queryset, NOTIFICATIONS_PER_PAGE).get_page(request.GET.get("page"))
    labels = _event_labels()
    context = {
        "title": "Notifications",
        "page_obj": page,
        "items": [(n, labels.get(n.event, n.event)) for n in page.object_list],
        "filterset": filterset,
        "show": show,
        "event_choices": sorted(labels.items(), key=lambda item: item[1]),
        "unread_total": notifications.unread_count(request.user),
        "can_manage_webhooks": can_manage_webhooks(request.user),
        "active_subnav": "notifications",
    }
    if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "object-table":
        return render(request, "itom/notifications/_list.html", context)
    return render(request, "itom/notifications/list.html", context)


def _own(request, pk):
    return get_object_or_404(Notification, pk=pk, recipient=request.user)


@login_required
@require_safe
def notification_open(request, pk):
    """Mark the notification read and go to its object (a page of this portal only)."""
    notification = _own(request, pk)
    notifications.mark_read(request.user, [notification.pk])
    target = notification.url
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("itom:notification_list")


def _row_or_back(request, notification):
    """After marking one notification: htmx gets its row again (and the bell is told), a plain
    form post goes back to the list."""
    if request.headers.get("HX-Request"):
        notification.refresh_from_db()
        response = render(
            request,
            "itom/notifications/_item.html",
            {"notification": notification, "label": _event_labels().get(notification.event, notification.event)},
        )
        response["HX-Trigger"] = "notifications-changed"
        return response
    return redirect(request.POST.get("next") or reverse("itom:notification_list"))


@login_required
@require_POST
def notification_read(request, pk):
    notification = _own(request, pk)
    notifications.mark_read(request.user, [notification.pk])
    return _row_or_back(request, notification)


@login_required
@require_POST
def notification_unread(request, pk):
    notification = _own(request, pk)
    notifications.mark_unread(request.user, [notification.pk])
    return _row_or_back(request, notification)


@login_required
@require_POST
def notification_read_all(request):
    marked = notifications.mark_read(request.user)
    messages.success(request, f"Marked {marked} notification{'' if marked == 1 else 's'} read.")
    return redirect("itom:notification_list")


@login_required
@require_safe
def notification_bell(request):
    """The bell with the unread count (the navigation refreshes it with htmx)."""
    return render(
        request, "itom/notifications/_bell.html", {"unread_notifications": notifications.unread_count(request.user)}
    )


# --- Preferences -------------------------------------------------------------------------------------


@login_required
def notification_preferences(request):
    """Which events reach the signed-in user in the portal and by e-mail."""
    channels = list(NotificationChannel.choices)
    if request.method == "POST":
        choices = {
            row["event"].key: {channel: f"{row['event'].key}:{channel}" in request.POST for channel, _ in channels}
            for row in notifications.preferences_of(request.user)
        }
        notifications.set_preferences(request.user, choices)
        messages.success(request, "Saved your notification preferences.")
        return redirect("itom:notification_preferences")
    rows = notifications.preferences_of(request.user)
    groups = {}
    for row in rows:
        groups.setdefault(row["event"].group, []).append(
            (row["event"], [(channel, label, row["channels"][channel]) for channel, label in channels])
        )
    context = {
        "title": "Notification preferences",
        "groups": sorted(groups.items()),
        "channels": channels,
        "has_email": bool(request.user.email),
        "can_manage_webhooks": can_manage_webhooks(request.user),
        "active_subnav": "preferences",
    }
    return render(request, "itom/notifications/preferences.html", context)


# --- Webhooks (managers) ---------------------------------------------------------------------------


class Cell(str):
    """A cell that renders as ``html`` on the page and as its text in the CSV export."""

    def __new__(cls, text, html):
        cell = super().__new__(cls, text)
        cell.html = html
        return cell

    def __html__(self):
        return self.html


def state_badge(state, label=None):
    label = label or DeliveryState(state).label
    return Cell(
        label, format_html('<span class="badge text-bg-{}">{}</span>', STATE_BADGES.get(state, "secondary"), label)
    )


class EndpointNameColumn(Column):
    def value(self, obj):
        url = reverse("itom:webhookendpoint_detail", args=[obj.pk])
        return Cell(obj.name, format_html('<a href="{}">{}</a>', url, obj.name))


class EventsColumn(Column):
    def value(self, obj):
        return ", ".join(obj.events) if obj.events else "All events"


class LastDeliveryColumn(Column):
    def value(self, obj):
        if not obj.last_delivery_state:
            return "—"
        return state_badge(obj.last_delivery_state)


class ManagerPageMixin:
    """Webhook pages are managers': reading them takes the right to change webhooks."""

    permission_action = "change"

    def get_permission_required(self):
        return ["itom.change_webhookendpoint"]

    def get_context_data(self, **kwargs):
        kwargs.setdefault("can_manage_webhooks", True)
        kwargs.setdefault("active_subnav", "webhooks")
        return super().get_context_data(**kwargs)


class WebhookEndpointListView(ManagerPageMixin, ObjectListView):
    model = WebhookEndpoint
    filterset_class = WebhookEndpointFilterSet
    template_name = "itom/notifications/webhook_list.html"
    columns = [
        EndpointNameColumn("name"),
        Column("url", label="URL"),
        Column("kind"),
        EventsColumn("events", sortable=False),
        Column("active"),
        LastDeliveryColumn("last_delivery_state", label="Last delivery", sort="last_delivery_at"),
    ]

    def get_base_queryset(self):
        return endpoints_with_last_delivery()

    def get_context_data(self, **kwargs):
        kwargs.setdefault("title", "Webhooks")
        return super().get_context_data(**kwargs)


def endpoint_tabs(endpoint):
    return [
        {
            "key": "deliveries",
            "label": "Deliveries",
            "url": reverse("itom:webhookendpoint_deliveries", args=[endpoint.pk]),
        }
    ]


class WebhookEndpointDetailView(ManagerPageMixin, ObjectDetailView):
    model = WebhookEndpoint
    template_name = "itom/notifications/webhook_detail.html"
    fields = [("URL", "url"), "kind", "active"]
    recent = 10

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        endpoint = self.object
        labels = _event_labels()
        deliveries = list(endpoint.deliveries.order_by("-created_at", "-id")[: self.recent])
        kwargs.update(
            extra_tabs=endpoint_tabs(endpoint),
            subscribed=[(key, labels.get(key, key)) for key in endpoint.events],
            deliveries=[(d, state_badge(d.state)) for d in deliveries],
            any_open=any(d.state in webhooks.OPEN_STATES for d in deliveries),
            revealed_secret=self.request.session.pop(f"{SECRET_SESSION_KEY}.{endpoint.pk}", None),
            signature_header=webhooks.SIGNATURE_HEADER,
        )
        return super().get_context_data(**kwargs)

    def render_to_response(self, context, **kwargs):
        response = super().render_to_response(context, **kwargs)
        if context.get("revealed_secret"):
            response["Cache-Control"] = "no-store"  # the page carries the plain secret
        return response


@login_required
@require_safe
def webhook_recent_deliveries(request, pk):
    """The detail page's delivery panel, refreshed by htmx while a delivery is still open."""
    if not can_manage_webhooks(request.user):
        raise PermissionDenied
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    deliveries = list(endpoint.deliveries.order_by("-created_at", "-id")[: WebhookEndpointDetailView.recent])
    return render(
        request,
        "itom/notifications/_recent_deliveries.html",
        {
            "object": endpoint,
            "deliveries": [(d, state_badge(d.state)) for d in deliveries],
            "any_open": any(d.state in webhooks.OPEN_STATES for d in deliveries),
        },
    )


class WebhookEndpointEditView(ManagerPageMixin, ObjectEditView):
    model = WebhookEndpoint
    form_class = WebhookEndpointForm

    def get_permission_required(self):
        return ["itom.change_webhookendpoint" if "pk" in self.kwargs else "itom.add_webhookendpoint"]

    def save_form(self, form):
        endpoint = form.save_endpoint()
        if form.secret_changed and endpoint.secret:
            self.request.session[f"{SECRET_SESSION_KEY}.{endpoint.pk}"] = endpoint.secret
        return endpoint

    def get_success_url(self):
        return reverse("itom:webhookendpoint_detail", args=[self.object.pk])

    def get_context_data(self, **kwargs):
        kwargs["cancel_url"] = (
            reverse("itom:webhookendpoint_detail", args=[self.object.pk])
            if self.object
            else reverse("itom:webhookendpoint_list")
        )
        return super().get_context_data(**kwargs)

    def get_template_names(self):
        return ["itom/notifications/webhook_form.html"]


class WebhookEndpointDeleteView(ManagerPageMixin, ObjectDeleteView):
    model = WebhookEndpoint
    template_name = "itom/notifications/webhook_confirm_delete.html"

    def get_permission_required(self):
        return ["itom.delete_webhookendpoint"]


class WebhookEndpointHistoryView(ManagerPageMixin, ObjectHistoryView):
    model = WebhookEndpoint
    template_name = "itom/notifications/webhook_history.html"

    def get_context_data(self, **kwargs):
        kwargs["extra_tabs"] = endpoint_tabs(self.object)
        return super().get_context_data(**kwargs)


class DeliveryLinkColumn(Column):
    def value(self, obj):
        url = reverse("itom:webhookdelivery_detail", args=[obj.pk])
        text = obj.created_at.strftime("%Y-%m-%d %H:%M:%S")
        return Cell(text, format_html('<a href="{}">{}</a>', url, text))


class DeliveryStateColumn(Column):
    def value(self, obj):
        return state_badge(obj.state)


class WebhookDeliveryListView(ManagerPageMixin, ObjectListView):
    """One endpoint's delivery log: every event sent or being sent, newest first."""

    model = WebhookDelivery
    filterset_class = WebhookDeliveryFilterSet
    template_name = "itom/notifications/delivery_list.html"
    columns = [
        DeliveryLinkColumn("created_at", label="Queued"),
        Column("event"),
        DeliveryStateColumn("state"),
        Column("attempts"),
        Column("response_status", label="HTTP status"),
        Column("error", sortable=False),
        Column("next_attempt_at", label="Next attempt"),
        Column("delivered_at", label="Delivered"),
    ]

    def get(self, request, *args, **kwargs):
        self.endpoint = get_object_or_404(WebhookEndpoint, pk=kwargs["pk"])  # after the permission check
        return super().get(request, *args, **kwargs)

    def get_base_queryset(self):
        return WebhookDelivery.objects.filter(endpoint=self.endpoint).order_by("-created_at", "-id")

    def get_add_url(self):
        return None

    def get_context_data(self, **kwargs):
        kwargs.update(
            title=f"Deliveries · {self.endpoint}",
            object=self.endpoint,
            endpoint_opts=WebhookEndpoint._meta,
            extra_tabs=endpoint_tabs(self.endpoint),
            active_tab="deliveries",
            can_add=False,
            can_change=self.request.user.has_perm("itom.change_webhookendpoint"),
            can_delete=self.request.user.has_perm("itom.delete_webhookendpoint"),
        )
        return super().get_context_data(**kwargs)


@login_required
@require_safe
def webhook_delivery_detail(request, pk):
    if not can_manage_webhooks(request.user):
        raise PermissionDenied
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
    context = {
        "title": f"Delivery {delivery.pk}",
        "delivery": delivery,
        "endpoint": delivery.endpoint,
        "badge": state_badge(delivery.state),
        "payload": json.dumps(delivery.payload, indent=2, ensure_ascii=False),
        "body": webhooks.render_body(delivery.endpoint, delivery.payload).decode(),
        "is_open": delivery.state in webhooks.OPEN_STATES,
        "can_manage_webhooks": True,
        "active_subnav": "webhooks",
        "headers": [
            (webhooks.EVENT_HEADER, delivery.event),
            (webhooks.DELIVERY_HEADER, str(delivery.pk)),
            (webhooks.SIGNATURE_HEADER, "sha256=…" if delivery.endpoint.secret else "(no secret: not signed)"),
        ],
    }
    if request.headers.get("HX-Request"):
        return render(request, "itom/notifications/_delivery_status.html", context)
    return render(request, "itom/notifications/delivery_detail.html", context)


@login_required
@require_POST
def webhook_test(request, pk):
    if not can_manage_webhooks(request.user):
        raise PermissionDenied
    with transaction.atomic():
        endpoint = get_object_or_404(WebhookEndpoint.objects.select_for_update(), pk=pk)
        webhooks.send_test(endpoint, request.user)
    messages.info(request, f"Queued a test delivery to “{endpoint}”. Its outcome shows below.")
    return redirect("itom:webhookendpoint_detail", pk=endpoint.pk)


@login_required
@require_POST
def webhook_redeliver(request, pk):
    if not can_manage_webhooks(request.user):
        raise PermissionDenied
    with transaction.atomic():
        delivery = get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk)
        copy = webhooks.redeliver(delivery)
    messages.info(request, f"Queued delivery {copy.pk}: the same event again.")
    return redirect("itom:webhookdelivery_detail", pk=copy.pk)
