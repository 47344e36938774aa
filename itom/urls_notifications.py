"""The notification pages (``itom:notification_*``) and the webhook pages (``itom:webhookendpoint_*``,
``itom:webhookdelivery_*``: the names the generic views and templates derive from the models)."""

from django.urls import include, path

from itom import views_notifications as views

app_name = "itom"

webhook_patterns = [
    path("", views.WebhookEndpointListView.as_view(), name="webhookendpoint_list"),
    path("add/", views.WebhookEndpointEditView.as_view(), name="webhookendpoint_add"),
    path("<int:pk>/", views.WebhookEndpointDetailView.as_view(), name="webhookendpoint_detail"),
    path("<int:pk>/edit/", views.WebhookEndpointEditView.as_view(), name="webhookendpoint_edit"),
    path("<int:pk>/delete/", views.WebhookEndpointDeleteView.as_view(), name="webhookendpoint_delete"),
    path("<int:pk>/history/", views.WebhookEndpointHistoryView.as_view(), name="webhookendpoint_history"),
    path("<int:pk>/deliveries/", views.WebhookDeliveryListView.as_view(), name="webhookendpoint_deliveries"),
    path("<int:pk>/recent/", views.webhook_recent_deliveries, name="webhookendpoint_recent"),
    path("<int:pk>/test/", views.webhook_test, name="webhookendpoint_test"),
    path("deliveries/<int:pk>/", views.webhook_delivery_detail, name="webhookdelivery_detail"),
    path("deliveries/<int:pk>/redeliver/", views.webhook_redeliver, name="webhookdelivery_redeliver"),
]

urlpatterns = [
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/bell/", views.notification_bell, name="notification_bell"),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("notifications/preferences/", views.notification_preferences, name="notification_preferences"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/<int:pk>/unread/", views.notification_unread, name="notification_unread"),
    path("notifications/webhooks/", include(webhook_patterns)),
]
