from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from itom import webhooks
from itom.forms_notifications import WebhookEndpointForm
from itom.models import Notification, NotificationPreference, ObjectChange, WebhookDelivery, WebhookEndpoint


@admin.register(ObjectChange)
class ObjectChangeAdmin(admin.ModelAdmin):
    """The audit trail, read-only: nobody edits or deletes history from the console."""

    list_display = ["time", "user_name", "action", "content_type", "object_repr", "request_id"]
    list_filter = ["action", "content_type"]
    search_fields = ["object_repr", "user_name", "object_id", "request_id"]
    date_hierarchy = "time"
    list_select_related = ["content_type"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Notifications and webhooks -----------------------------------------------------------------


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the portal writes (notifications, deliveries, preferences): viewed and deleted here,
    never written by hand."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(_ReadOnlyAdmin):
    list_display = ["title", "recipient", "event", "created_at", "read_at"]
    list_filter = ["event", ("read_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "body", "recipient__username"]
    list_select_related = ["recipient"]
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(_ReadOnlyAdmin):
    list_display = ["user", "event", "channel", "enabled"]
    list_filter = ["channel", "enabled", "event"]
    search_fields = ["user__username", "event"]
    list_select_related = ["user"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Endpoints are saved through ``itom.webhooks.save_endpoint`` (URL and event checks, a
    generated secret for JSON endpoints); the secret is never shown here."""

    form = WebhookEndpointForm
    list_display = ["name", "url", "kind", "active", "event_list", "updated_at"]
    list_filter = ["kind", "active"]
    search_fields = ["name", "url"]
    actions = ["send_test"]

    @admin.display(description="Events")
    def event_list(self, endpoint):
        return ", ".join(endpoint.events) if endpoint.events else "All events"

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "kind", "secret", "new_secret", "events", "active"]
        return fields if obj is not None else [f for f in fields if f != "new_secret"]

    def save_model(self, request, obj, form, change):
        endpoint = form.save_endpoint()  # the form ran the same checks: this does not refuse
        if form.secret_changed and endpoint.secret:
            from itom.views_notifications import SECRET_SESSION_KEY

            request.session[f"{SECRET_SESSION_KEY}.{endpoint.pk}"] = endpoint.secret
            url = reverse("itom:webhookendpoint_detail", args=[endpoint.pk])
            self.message_user(
                request,
                format_html('The signing secret is shown once on <a href="{}">the webhook\'s page</a>.', url),
                level=messages.WARNING,
            )

    @admin.action(description="Send a test delivery")
    def send_test(self, request, queryset):
        for endpoint in queryset:
            webhooks.send_test(endpoint, request.user)
        self.message_user(request, f"Queued {queryset.count()} test deliveries; see each webhook's delivery log.")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(_ReadOnlyAdmin):
    list_display = ["created_at", "endpoint", "event", "state", "attempts", "response_status", "delivered_at"]
    list_filter = ["state", "endpoint", "event"]
    search_fields = ["event", "error", "endpoint__name"]
    list_select_related = ["endpoint"]
    date_hierarchy = "created_at"
    actions = ["redeliver"]

    @admin.action(description="Redeliver (queue the same event again)")
    def redeliver(self, request, queryset):
        copies = [webhooks.redeliver(delivery) for delivery in queryset.select_related("endpoint")]
        self.message_user(request, f"Queued {len(copies)} deliveries again.")
