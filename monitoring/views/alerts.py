"""The alerts: the list (firing first, then the latest seen; filters by status, severity, source and
CI; search, sort, pages, CSV) and an alert's page (labels, annotations, occurrences, first and
last seen, why it is suppressed and by what, its incident). Alerts are written by the poller, the
inbound integrations and the metric rules, never by hand: these pages only read."""

from django.db.models import Case, IntegerField, Value, When

from itom.generic import Column, ObjectDetailView
from monitoring.choices import AlertStatus
from monitoring.filters import AlertFilterSet
from monitoring.models import Alert
from monitoring.views.base import MonitoringListView, MonitoringPage


class IncidentColumn(Column):
    def value(self, obj):
        return obj.incident.number if obj.incident_id else ""


class AlertListView(MonitoringListView):
    model = Alert
    filterset_class = AlertFilterSet
    template_name = "monitoring/alert_list.html"
    partial_template_name = "monitoring/_alert_table.html"
    subnav = "alerts"
    shown_filters = ("q", "status", "severity", "source", "suppression")
    tall_filters = ("status", "severity", "source")
    columns = [
        Column("name", link=True),
        Column("status"),
        Column("severity"),
        Column("source"),
        Column("ci.name", label="CI", sort="ci__name"),
        Column("occurrences"),
        Column("first_seen"),
        Column("last_seen"),
        IncidentColumn("incident", label="Incident", sort="incident__number"),
        Column("suppressed", label="Suppressed"),
    ]

    def get_base_queryset(self):
        firing_first = Case(
            When(status=AlertStatus.FIRING, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        return (
            Alert.objects.select_related("ci", "incident", "monitor")
            .annotate(firing_first=firing_first)
            .order_by("firing_first", "-last_seen", "-pk")
        )


class AlertDetailView(MonitoringPage, ObjectDetailView):
    model = Alert
    template_name = "monitoring/alert_detail.html"
    subnav = "alerts"

    def get_queryset(self):
        return Alert.objects.select_related(
            "ci",
            "monitor",
            "rule",
            "integration",
            "incident",
            "suppressed_by_change",
            "suppressed_by_window",
            "parent",
            "parent__ci",
        )

    def get_context_data(self, **kwargs):
        alert = self.object
        kwargs.update(
            labels=sorted(alert.labels.items()) if isinstance(alert.labels, dict) else [],
            annotations=sorted(alert.annotations.items()) if isinstance(alert.annotations, dict) else [],
            children=list(alert.children.select_related("ci").order_by("-last_seen")[:20]),
        )
        return super().get_context_data(**kwargs)
