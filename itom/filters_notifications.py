"""Filters of the notification list, the webhook endpoints and their delivery log, shared by the
pages and the API (``itom.views_notifications``, ``itom.api.notifications``)."""

import django_filters

from itom.choices import DeliveryState, WebhookKind
from itom.filters import BaseFilterSet
from itom.models import Notification, WebhookDelivery, WebhookEndpoint


class NotificationFilterSet(BaseFilterSet):
    """``unread=true`` for the unread ones only; ``event=incident.created``; ``q`` searches the words."""

    search_fields = ("title", "body")
    unread = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", label="Unread")
    event = django_filters.CharFilter(label="Event")

    class Meta:
        model = Notification
        fields = ["id", "event"]


class WebhookEndpointFilterSet(BaseFilterSet):
    search_fields = ("name", "url")
    kind = django_filters.ChoiceFilter(choices=WebhookKind.choices)
    active = django_filters.BooleanFilter()

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "kind", "active"]


class WebhookDeliveryFilterSet(BaseFilterSet):
    search_fields = ("event", "error")
    state = django_filters.ChoiceFilter(choices=DeliveryState.choices)
    event = django_filters.CharFilter(label="Event")
    created = django_filters.IsoDateTimeFromToRangeFilter(field_name="created_at", label="Created")

    class Meta:
        model = WebhookDelivery
        fields = ["id", "state", "event"]
