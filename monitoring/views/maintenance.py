"""Maintenance windows: the list (filters, search, sort, pages, CSV), a window's page (what it
covers, when, whether it runs now, the alerts it holds back), new / edit / delete and History.

Every write goes through ``monitoring.services.maintenance``; viewers read, agents write
(``monitoring.*_maintenancewindow``)."""

from django.urls import reverse
from django.utils import timezone

from itom.generic import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectHistoryView
from monitoring.choices import Recurrence
from monitoring.filters import MaintenanceWindowFilterSet
from monitoring.forms import WEEKDAYS, MaintenanceWindowForm
from monitoring.models import MaintenanceWindow
from monitoring.views.base import CIFromQueryMixin, MonitoringListView, MonitoringPage

SUPPRESSED_SHOWN = 50
DAY_NAMES = dict(WEEKDAYS)


def scope_text(window):
    """What a window covers, e.g. "web-01, db-01 · class Database · tag pci" (prefetched)."""
    parts = []
    cis = [ci.name for ci in window.cis.all()]
    if cis:
        parts.append(", ".join(cis))
    parts += [f"class {c.name}" for c in window.ci_classes.all()]
    parts += [f"tag {t.name}" for t in window.tags.all()]
    return " · ".join(parts) or "—"


def when_text(window):
    """ "2024-05-01 22:00 – 2024-05-02 02:00" or "Mon, Wed at 02:00 for 60 min (from 2024-05-01)"."""
    if window.recurrence == Recurrence.WEEKLY:
        days = ", ".join(DAY_NAMES.get(day, str(day)) for day in sorted(window.weekdays or []))
        start_time = window.start_time.strftime("%H:%M") if window.start_time else "?"
        text = f"{days} at {start_time} for {window.duration_minutes or '?'} min"
        since = timezone.localtime(window.start).strftime("%Y-%m-%d")
        until = f" until {timezone.localtime(window.end):%Y-%m-%d}" if window.end else ""
        return f"{text} (from {since}{until})"
    start = timezone.localtime(window.start).strftime("%Y-%m-%d %H:%M")
    end = timezone.localtime(window.end).strftime("%Y-%m-%d %H:%M") if window.end else "?"
    return f"{start} – {end}"


def running_now(window):
    from monitoring.selectors import window_is_active

    return bool(window.active and window_is_active(window, timezone.now()))


class ScopeColumn(Column):
    def value(self, obj):
        return scope_text(obj)


class WhenColumn(Column):
    def value(self, obj):
        return when_text(obj)


class MaintenanceListView(MonitoringListView):
    model = MaintenanceWindow
    filterset_class = MaintenanceWindowFilterSet
    template_name = "monitoring/maintenance_list.html"
    subnav = "maintenance"
    add_label = "New maintenance window"
    shown_filters = ("q", "recurrence", "active")
    boolean_choices = {"active": [("unknown", "Any"), ("true", "Active"), ("false", "Inactive")]}
    columns = [
        Column("name", link=True),
        Column("recurrence"),
        WhenColumn("start", label="When"),
        ScopeColumn("scope", label="Covers", sortable=False),
        Column("active"),
    ]

    def get_base_queryset(self):
        return MaintenanceWindow.objects.prefetch_related("cis", "ci_classes", "tags")

    def get_add_url(self):
        return reverse("monitoring:maintenance_add")


class MaintenanceDetailView(MonitoringPage, ObjectDetailView):
    model = MaintenanceWindow
    template_name = "monitoring/maintenance_detail.html"
    subnav = "maintenance"

    def get_queryset(self):
        return MaintenanceWindow.objects.select_related("created_by").prefetch_related("ci_classes", "tags")

    def get_context_data(self, **kwargs):
        window = self.object
        kwargs.update(
            when=when_text(window),
            running=running_now(window),
            cis=list(window.cis.select_related("ci_class").order_by("name")),
            suppressed=list(
                window.suppressed_alerts.select_related("ci", "monitor").order_by("-last_seen")[:SUPPRESSED_SHOWN]
            ),
            weekday_names=[DAY_NAMES.get(day, str(day)) for day in sorted(window.weekdays or [])],
        )
        return super().get_context_data(**kwargs)


class MaintenanceEditView(CIFromQueryMixin, MonitoringPage, ObjectEditView):
    model = MaintenanceWindow
    form_class = MaintenanceWindowForm
    template_name = "monitoring/maintenance_form.html"
    subnav = "maintenance"

    def get_queryset(self):
        return MaintenanceWindow.objects.prefetch_related("cis", "ci_classes", "tags")

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        kwargs["window"] = self.object
        return kwargs

    def ci_initial(self, ci_id):
        return {"cis": [ci_id]}

    def get_initial(self):
        initial = super().get_initial()
        if self.object is None:
            initial.setdefault("start", timezone.localtime().replace(second=0, microsecond=0))
        return initial

    def save_form(self, form):
        from monitoring.services import maintenance as services

        user = self.request.user
        if self.object is None:
            return services.create_window(user=user, **form.service_fields())
        window = MaintenanceWindow.objects.get(pk=self.object.pk)
        return services.update_window(window, user=user, **form.service_fields())

    def get_context_data(self, **kwargs):
        form = kwargs.setdefault("form", self.get_form())
        kwargs["chosen_cis"] = form.chosen_cis()
        return super().get_context_data(**kwargs)


class MaintenanceDeleteView(ObjectDeleteView):
    model = MaintenanceWindow

    def delete_object(self, obj):
        from monitoring.services import maintenance as services

        services.delete_window(obj, user=self.request.user)

    def get_success_url(self):
        return reverse("monitoring:maintenance_list")


class MaintenanceHistoryView(MonitoringPage, ObjectHistoryView):
    model = MaintenanceWindow
    template_name = "monitoring/maintenance_history.html"
    subnav = "maintenance"
