"""The monitoring pages, under ``/monitoring/``: the overview (and its live part), checks (list, page,
new / edit with "Test now", delete, History), alerts, maintenance windows, integrations
(managers), metric rules and zones. The heartbeat pings are ``urls_ping``'s (``/ping/…``)."""

from django.urls import include, path

from monitoring.views import alerts, checks, integrations, maintenance, overview, rules, zones

app_name = "monitoring"

check_patterns = [
    path("", checks.CheckListView.as_view(), name="check_list"),
    path("new/", checks.CheckEditView.as_view(), name="check_add"),
    path("test/", checks.CheckTestView.as_view(), name="check_test"),
    path("<int:pk>/", checks.CheckDetailView.as_view(), name="check_detail"),
    path("<int:pk>/edit/", checks.CheckEditView.as_view(), name="check_edit"),
    path("<int:pk>/delete/", checks.CheckDeleteView.as_view(), name="check_delete"),
    path("<int:pk>/history/", checks.CheckHistoryView.as_view(), name="check_history"),
    path("<int:pk>/test/", checks.CheckRunNowView.as_view(), name="check_run_now"),
]

alert_patterns = [
    path("", alerts.AlertListView.as_view(), name="alert_list"),
    path("<int:pk>/", alerts.AlertDetailView.as_view(), name="alert_detail"),
]

maintenance_patterns = [
    path("", maintenance.MaintenanceListView.as_view(), name="maintenance_list"),
    path("new/", maintenance.MaintenanceEditView.as_view(), name="maintenance_add"),
    path("<int:pk>/", maintenance.MaintenanceDetailView.as_view(), name="maintenance_detail"),
    path("<int:pk>/edit/", maintenance.MaintenanceEditView.as_view(), name="maintenance_edit"),
    path("<int:pk>/delete/", maintenance.MaintenanceDeleteView.as_view(), name="maintenance_delete"),
    path("<int:pk>/history/", maintenance.MaintenanceHistoryView.as_view(), name="maintenance_history"),
]

integration_patterns = [
    path("", integrations.IntegrationListView.as_view(), name="integration_list"),
    path("new/", integrations.IntegrationCreateView.as_view(), name="integration_add"),
    path("<int:pk>/", integrations.IntegrationDetailView.as_view(), name="integration_detail"),
    path("<int:pk>/edit/", integrations.IntegrationEditView.as_view(), name="integration_edit"),
    path("<int:pk>/rotate/", integrations.IntegrationRotateView.as_view(), name="integration_rotate"),
    path("<int:pk>/delete/", integrations.IntegrationDeleteView.as_view(), name="integration_delete"),
    path("<int:pk>/history/", integrations.IntegrationHistoryView.as_view(), name="integration_history"),
]

rule_patterns = [
    path("", rules.RuleListView.as_view(), name="rule_list"),
    path("new/", rules.RuleEditView.as_view(), name="rule_add"),
    path("<int:pk>/", rules.RuleDetailView.as_view(), name="rule_detail"),
    path("<int:pk>/edit/", rules.RuleEditView.as_view(), name="rule_edit"),
    path("<int:pk>/delete/", rules.RuleDeleteView.as_view(), name="rule_delete"),
    path("<int:pk>/history/", rules.RuleHistoryView.as_view(), name="rule_history"),
]

urlpatterns = [
    path(
        "monitoring/",
        include(
            [
                path("", overview.OverviewView.as_view(), name="overview"),
                path("overview/live/", overview.OverviewLiveView.as_view(), name="overview_live"),
                path("checks/", include(check_patterns)),
                path("alerts/", include(alert_patterns)),
                path("maintenance/", include(maintenance_patterns)),
                path("integrations/", include(integration_patterns)),
                path("rules/", include(rule_patterns)),
                path("zones/", zones.ZoneListView.as_view(), name="zone_list"),
            ]
        ),
    ),
]
