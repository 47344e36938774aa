"""``/api/v1/notifications/``: the caller's own in-app notifications, their preferences, and the
outgoing webhooks (managers only) with each endpoint's delivery log.

- ``notifications/`` — the caller's notifications (``?unread=true``, ``?event=``, ``?q=``);
  ``POST {id}/read/``, ``POST {id}/unread/``, ``POST read-all/`` (optionally ``{"ids": [...]}``),
  ``GET unread-count/``.
- ``notifications/preferences/`` — every event with the channels the caller receives it on;
  ``PUT``/``PATCH`` a list of ``{"event", "in_app"?, "email"?}``.
- ``notifications/webhooks/`` — CRUD (managers); ``secret`` is write-only and returned once, in the
  answer to the write that set it (a JSON endpoint created without one gets a generated one);
  ``GET {id}/deliveries/`` the log, ``GET {id}/deliveries/{delivery_id}/``,
  ``POST {id}/deliveries/{delivery_id}/redeliver/``, ``POST {id}/test/`` (a ``webhook.ping``).
"""

from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from itom import notifications, webhooks
from itom.api.permissions import RolePermission
from itom.api.serializers import ValidatedModelSerializer
from itom.api.viewsets import PortalModelViewSet, PortalReadOnlyViewSet
from itom.choices import DeliveryState, NotificationChannel
from itom.filters_notifications import NotificationFilterSet, WebhookDeliveryFilterSet, WebhookEndpointFilterSet
from itom.models import Notification, WebhookDelivery, WebhookEndpoint

# --- Permissions -------------------------------------------------------------------------------


class OwnNotificationsPermission(BasePermission):
    """Any signed-in, active user reads and marks their own notifications and preferences (the
    queryset holds only theirs); a read-only API token may not change them."""

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if request.method not in SAFE_METHODS and not getattr(request.auth, "write_enabled", True):
            self.message = "This API token is read-only."
            return False
        return True


class ManagersOnlyPermission(RolePermission):
    """Webhooks carry where the portal sends its data: reading them takes the right to change them
    (managers), not only to view."""

    perms_map = {
        **RolePermission.perms_map,
        "GET": ["%(app_label)s.change_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.change_%(model_name)s"],
        "HEAD": ["%(app_label)s.change_%(model_name)s"],
    }


# --- In-app notifications ----------------------------------------------------------------------


class NotificationSerializer(serializers.ModelSerializer):
    event_label = serializers.SerializerMethodField()
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "event", "event_label", "title", "body", "url", "read", "read_at", "created_at"]
        read_only_fields = fields

    def get_event_label(self, notification) -> str:
        try:
            return notifications.get_event(notification.event).label
        except LookupError:
            return notification.event

    def get_read(self, notification) -> bool:
        return notification.read_at is not None


class MarkReadSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        max_length=1000,
        help_text="Only these notifications (yours); without it, all of them.",
    )


class CountSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class NotificationViewSet(PortalReadOnlyViewSet):
    """The caller's in-app notifications, newest first. Nobody sees another person's."""

    queryset = Notification.objects.all()
    serializer_class = NotificationSerializer
    filterset_class = NotificationFilterSet
    permission_classes = [OwnNotificationsPermission]
    ordering_fields = ["created_at", "id", "read_at"]
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        return Notification.objects.filter(recipient=self.request.user).order_by("-created_at", "-id")

    @extend_schema(request=None, responses=NotificationSerializer, summary="Mark one notification read")
    @action(detail=True, methods=["post"], filter_backends=[])
    def read(self, request, pk=None):
        notification = self.get_object()
        notifications.mark_read(request.user, [notification.pk])
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses=NotificationSerializer, summary="Mark one notification unread")
    @action(detail=True, methods=["post"], filter_backends=[])
    def unread(self, request, pk=None):
        notification = self.get_object()
        notifications.mark_unread(request.user, [notification.pk])
        notification.refresh_from_db()
        return Response(self.get_serializer(notification).data)

    @extend_schema(
        request=MarkReadSerializer,
        responses=inline_serializer(
            "MarkedRead", {"marked": serializers.IntegerField(), "unread": serializers.IntegerField()}
        ),
        summary="Mark all (or the listed) notifications read",
    )
    @action(detail=False, methods=["post"], url_path="read-all", filter_backends=[])
    def read_all(self, request):
        params = MarkReadSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        marked = notifications.mark_read(request.user, params.validated_data.get("ids"))
        return Response({"marked": marked, "unread": notifications.unread_count(request.user)})

    @extend_schema(responses=CountSerializer, summary="How many notifications are unread")
    @action(detail=False, methods=["get"], url_path="unread-count", filter_backends=[], pagination_class=None)
    def unread_count(self, request):
        return Response({"unread": notifications.unread_count(request.user)})


# --- Preferences ---------------------------------------------------------------------------------


class PreferenceSerializer(serializers.Serializer):
    event = serializers.CharField(help_text="An event key, e.g. incident.created.")
    label = serializers.CharField(read_only=True)
    default_channels = serializers.ListField(child=serializers.CharField(), read_only=True)
    in_app = serializers.BooleanField(required=False, help_text="Shown in the portal's notification list.")
    email = serializers.BooleanField(required=False, help_text="Sent by e-mail.")

    def validate_event(self, value):
        try:
            notifications.get_event(value)
        except LookupError:
            known = ", ".join(sorted(e.key for e in notifications.events()))
            raise serializers.ValidationError(f"Unknown event {value!r}. Known: {known}.") from None
        return value


def _preference_rows(user):
    return [
        {
            "event": row["event"].key,
            "label": row["event"].label,
            "default_channels": list(row["event"].default_channels),
            **row["channels"],
        }
        for row in notifications.preferences_of(user)
    ]


class NotificationPreferencesView(APIView):
    """The caller's notification preferences: every event, and whether it reaches them in the portal
    (``in_app``) and by e-mail (``email``). Write a list of the events to change; a channel left out
    keeps its setting. Unknown events are a 400 naming them, and then nothing is written."""

    permission_classes = [OwnNotificationsPermission]

    @extend_schema(responses=PreferenceSerializer(many=True))
    def get(self, request):
        return Response(_preference_rows(request.user))

    @extend_schema(request=PreferenceSerializer(many=True), responses=PreferenceSerializer(many=True))
    def put(self, request):
        return self._write(request)

    @extend_schema(request=PreferenceSerializer(many=True), responses=PreferenceSerializer(many=True))
    def patch(self, request):
        return self._write(request)

    def _write(self, request):
        rows = PreferenceSerializer(data=request.data, many=True)
        rows.is_valid(raise_exception=True)
        choices = {}
        for row in rows.validated_data:
            channels = choices.setdefault(row["event"], {})
            for channel in NotificationChannel.values:
                if channel in row:
                    channels[channel] = row[channel]
        notifications.set_preferences(request.user, choices)
        return Response(_preference_rows(request.user))


# --- Webhooks ----------------------------------------------------------------------------------------


class WebhookEndpointSerializer(ValidatedModelSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        style={"input_type": "password"},
        help_text="The HMAC-SHA256 key. Write-only: returned once, in the answer to the write that set it. "
        "A JSON endpoint created without one gets a generated secret.",
    )
    has_secret = serializers.SerializerMethodField()
    events = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Event keys the endpoint receives (see /api/v1/notifications/preferences/); empty: all.",
    )
    last_delivery_state = serializers.CharField(read_only=True, allow_null=True)
    last_delivery_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "display",
            "name",
            "url",
            "kind",
            "secret",
            "has_secret",
            "events",
            "active",
            "last_delivery_state",
            "last_delivery_at",
            "created_at",
            "updated_at",
        ]

    def get_has_secret(self, endpoint) -> bool:
        return bool(endpoint.secret)

    def validate_url(self, value):
        webhooks.validate_url(value)
        return value

    def validate_events(self, value):
        return webhooks.validate_events(value)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint_name = serializers.CharField(source="endpoint.name", read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "endpoint_name",
            "event",
            "state",
            "attempts",
            "response_status",
            "response_body",
            "error",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "updated_at",
            "payload",
        ]
        read_only_fields = fields


def _latest_delivery(field):
    return Subquery(
        WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-id").values(field)[:1]
    )


def endpoints_with_last_delivery():
    return WebhookEndpoint.objects.annotate(
        last_delivery_state=_latest_delivery("state"), last_delivery_at=_latest_delivery("created_at")
    )


class WebhookEndpointViewSet(PortalModelViewSet):
    """Outgoing webhooks (managers): JSON signed with HMAC-SHA256 (``X-ITOM-Signature-256``) or
    Slack-compatible chat messages; every delivery and its attempts are in ``{id}/deliveries/``."""

    queryset = endpoints_with_last_delivery()
    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilterSet
    permission_classes = [ManagersOnlyPermission]
    ordering_fields = ["name", "kind", "active", "created_at", "updated_at"]
    lookup_value_regex = r"[0-9]+"
    action_permissions = {"deliveries": "change", "delivery": "change", "redeliver": "change", "test": "change"}

    def get_queryset(self):
        if self.action in ("deliveries", "delivery", "redeliver", "test"):
            return WebhookEndpoint.objects.all()
        return endpoints_with_last_delivery()

    def _save(self, serializer, instance):
        data = dict(serializer.validated_data)
        for name, value in data.items():
            setattr(instance, name, value)
        before = getattr(self, "_secret_before", None)
        serializer.instance = webhooks.save_endpoint(instance)
        self._revealed_secret = serializer.instance.secret if serializer.instance.secret != before else None
        return serializer.instance

    def perform_create(self, serializer):
        self._secret_before = None
        self._save(serializer, WebhookEndpoint())

    def perform_update(self, serializer):
        self._secret_before = serializer.instance.secret
        self._written = self._save(serializer, serializer.instance)

    def _reveal(self, response):
        secret = getattr(self, "_revealed_secret", None)
        if secret and response.status_code < 300:
            response.data["secret"] = secret
        return response

    def create(self, request, *args, **kwargs):
        return self._reveal(super().create(request, *args, **kwargs))

    def update(self, request, *args, **kwargs):
        return self._reveal(super().update(request, *args, **kwargs))

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state", str, enum=list(DeliveryState.values), description="Only deliveries in this state."
            ),
            OpenApiParameter("event", str, description="Only this event, e.g. incident.created."),
            OpenApiParameter("q", str, description="Search the event and the error."),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=WebhookDeliverySerializer(many=True),
        summary="The endpoint's delivery log",
        description="Newest first: each event sent (or being sent), its state, attempts and the last answer.",
    )
    @action(detail=True, methods=["get"], filter_backends=[])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        filterset = WebhookDeliveryFilterSet(
            request.query_params, queryset=WebhookDelivery.objects.filter(endpoint=endpoint).select_related("endpoint")
        )
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        page = self.paginate_queryset(filterset.qs.order_by("-created_at", "-id"))
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)

    @extend_schema(responses=WebhookDeliverySerializer, summary="One delivery of the endpoint")
    @action(detail=True, methods=["get"], url_path=r"deliveries/(?P<delivery_id>[0-9]+)", filter_backends=[])
    def delivery(self, request, pk=None, delivery_id=None):
        endpoint = self.get_object()
        delivery = get_object_or_404(
            WebhookDelivery.objects.select_related("endpoint"), endpoint=endpoint, pk=delivery_id
        )
        return Response(WebhookDeliverySerializer(delivery).data)

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        summary="Send the delivery again",
        description="Queues a new delivery of the same event and payload; the log keeps both.",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[0-9]+)/redeliver",
        filter_backends=[],
    )
    def redeliver(self, request, pk=None, delivery_id=None):
        endpoint = self.get_object()
        delivery = get_object_or_404(WebhookDelivery, endpoint=endpoint, pk=delivery_id)
        copy = webhooks.redeliver(delivery)
        return Response(WebhookDeliverySerializer(copy).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: WebhookDeliverySerializer},
        summary="Send a test delivery",
        description="Queues a `webhook.ping` delivery (sent even to an inactive endpoint); follow it in the log.",
    )
    @action(detail=True, methods=["post"], filter_backends=[])
    def test(self, request, pk=None):
        endpoint = self.get_object()
        delivery = webhooks.send_test(endpoint, request.user)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
