"""Monitoring in the admin console (managers).

Zones, checks, maintenance windows, metric rules and integrations are written (and deleted)
through their services (the per-kind parameter and target checks live there); results, rollups,
alerts and pushed samples are shown read-only: they are written by the poller and the inbound
endpoints only. An integration's token is never shown here: it is created (and rotated) on the
integration's page or through the API, which show it once.
"""

from django.contrib import admin

from incidents.admin import ReadOnlyInline, ServiceAdmin
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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by the poller or the inbound endpoints: look, filter, delete — never edit."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Zone)
class ZoneAdmin(ServiceAdmin):
    """Written through ``monitoring.services.zones``: the default zone keeps its name and stays."""

    list_display = ["name", "queue", "description"]
    search_fields = ["name", "description"]

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from monitoring.services import zones

        if adding:
            return zones.create_zone(user=user, **fields)
        return zones.update_zone(instance, user=user, **fields)

    def has_delete_permission(self, request, obj=None):
        from monitoring.services import zones

        return super().has_delete_permission(request, obj) and not (obj is not None and zones.is_default(obj))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # one at a time, so the default zone can't go with a selection
        return actions

    @staticmethod
    def delete_with_service(obj, user):
        from monitoring.services import zones

        zones.delete_zone(obj, user=user)


class RecentResultInline(ReadOnlyInline):
    model = CheckResult
    fields = ["at", "status", "latency_ms", "lag_ms", "state", "message"]
    readonly_fields = fields
    ordering = ["-at"]
    max_num = 20

    def get_queryset(self, request):
        # The inline shows the newest results only; the check's page and the API page through all.
        queryset = super().get_queryset(request)
        return queryset.filter(pk__in=queryset.order_by("-at").values("pk")[:20])


RUNTIME_FIELDS = [*Check.RUNTIME_FIELDS, "uuid"]


@admin.register(Check)
class CheckAdmin(ServiceAdmin):
    list_display = ["name", "ci", "kind", "target", "port", "state", "state_type", "interval", "zone", "enabled"]
    list_filter = ["kind", "state", "enabled", "severity", "zone"]
    list_select_related = ["ci", "zone"]
    search_fields = ["name", "target", "ci__name"]
    autocomplete_fields = ["ci"]
    readonly_fields = RUNTIME_FIELDS
    fieldsets = [
        (None, {"fields": ["name", "ci", "kind", "target", "port", "params", "zone", "enabled"]}),
        (
            "Schedule and alerting",
            {
                "fields": [
                    "interval",
                    "timeout",
                    "max_attempts",
                    "retry_interval",
                    "recovery_threshold",
                    "auto_resolve",
                    "severity",
                ]
            },
        ),
        ("State (written by the poller)", {"fields": RUNTIME_FIELDS}),
    ]
    inlines = [RecentResultInline]

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from monitoring.services import checks

        if adding:
            return checks.create_check(user=user, **fields)
        return checks.update_check(instance, user=user, **fields)

    @staticmethod
    def delete_with_service(obj, user):
        from monitoring.services import checks

        checks.delete_check(obj, user=user)  # its firing alert ends (alerts.check_withdrawn)


@admin.register(CheckResult)
class CheckResultAdmin(ReadOnlyAdmin):
    list_display = ["monitor", "at", "status", "latency_ms", "lag_ms", "state", "message"]
    list_filter = ["status"]
    list_select_related = ["monitor"]
    search_fields = ["monitor__name", "message"]
    date_hierarchy = "at"
    show_full_result_count = False  # a count over millions of rows is the slow part of the page


@admin.register(CheckRollup)
class CheckRollupAdmin(ReadOnlyAdmin):
    list_display = ["monitor", "hour", "count", "failures", "latency_min", "latency_avg", "latency_p95", "latency_max"]
    list_select_related = ["monitor"]
    search_fields = ["monitor__name"]
    date_hierarchy = "hour"
    show_full_result_count = False


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["name", "fingerprint", "status", "severity", "source", "ci", "occurrences", "last_seen", "incident"]
    list_filter = ["status", "severity", "source", "suppressed"]
    list_select_related = ["ci", "incident"]
    search_fields = ["name", "fingerprint", "summary", "ci__name", "incident__number"]
    date_hierarchy = "last_seen"


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ServiceAdmin):
    list_display = ["name", "recurrence", "start", "end", "active", "created_by"]
    list_filter = ["recurrence", "active"]
    search_fields = ["name", "reason"]
    autocomplete_fields = ["cis", "tags"]
    filter_horizontal = ["ci_classes"]
    readonly_fields = ["created_by"]

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from monitoring.services import maintenance

        if adding:
            return maintenance.create_window(user=user, **fields)
        return maintenance.update_window(instance, user=user, **fields)

    @staticmethod
    def delete_with_service(obj, user):
        from monitoring.services import maintenance

        maintenance.delete_window(obj, user=user)


@admin.register(Integration)
class IntegrationAdmin(ServiceAdmin):
    list_display = ["name", "kind", "enabled", "requests_per_minute", "items_per_minute", "last_used_at"]
    list_filter = ["kind", "enabled"]
    search_fields = ["name"]
    fields = [
        "name",
        "kind",
        "enabled",
        "requests_per_minute",
        "items_per_minute",
        "default_severity",
        "token_prefix",
        "last_used_at",
        "created_by",
    ]
    readonly_fields = ["kind", "token_prefix", "last_used_at", "created_by"]

    def has_add_permission(self, request):
        return False  # created on its page or through the API, which show the token once

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from monitoring.services import integrations

        return integrations.update_integration(instance, user=user, **fields)

    @staticmethod
    def delete_with_service(obj, user):
        from monitoring.services import integrations

        integrations.delete_integration(obj, user=user)


@admin.register(MetricRule)
class MetricRuleAdmin(ServiceAdmin):
    list_display = ["name", "metric", "ci", "kind", "operator", "threshold", "for_minutes", "severity", "enabled"]
    list_filter = ["kind", "severity", "enabled"]
    list_select_related = ["ci"]
    search_fields = ["name", "metric", "ci__name"]
    autocomplete_fields = ["ci"]

    @staticmethod
    def save_with_service(instance, fields, user, adding):
        from monitoring.services import rules

        if adding:
            return rules.create_rule(user=user, **fields)
        return rules.update_rule(instance, user=user, **fields)

    @staticmethod
    def delete_with_service(obj, user):
        from monitoring.services import rules

        rules.delete_rule(obj, user=user)  # its firing alerts end (alerts.rule_withdrawn)


@admin.register(MetricSample)
class MetricSampleAdmin(ReadOnlyAdmin):
    list_display = ["ci", "name", "value", "unit", "time"]
    list_select_related = ["ci"]
    search_fields = ["ci__name", "name"]
    date_hierarchy = "time"
    show_full_result_count = False
