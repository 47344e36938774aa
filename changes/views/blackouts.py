"""Blackout windows: the list (upcoming first by default; filters, search, sort, CSV), a window's
page (its scope, and the booked changes it overlaps), add / edit / delete (managers: the
``changes.*_blackoutwindow`` permissions) and History. Everyone who sees changes reads them."""

from django.urls import reverse
from django.utils import timezone

from changes.choices import BOOKED_STATES
from changes.filters import BlackoutWindowFilterSet
from changes.forms import BlackoutForm
from changes.models import BlackoutWindow, ChangeRequest
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
)

OVERLAPPING_SHOWN = 50


class ScopeColumn(Column):
    def value(self, obj):
        return scope_text(obj)


def scope_text(window):
    """ "Global", or what the window covers: "Production · Database · Online shop"."""
    parts = []
    if window.environment:
        parts.append(window.get_environment_display())
    parts += [c.name for c in window.ci_classes.all()]
    parts += [s.name for s in window.business_services.all()]
    return " · ".join(parts) or "Global"


class BlackoutListView(ObjectListView):
    model = BlackoutWindow
    filterset_class = BlackoutWindowFilterSet
    template_name = "changes/blackout_list.html"
    shown_filters = ("q", "active", "environment")
    columns = [
        Column("name", link=True),
        Column("start"),
        Column("end"),
        ScopeColumn("scope", label="Scope", sortable=False),
        Column("active"),
    ]

    def get_base_queryset(self):
        return BlackoutWindow.objects.prefetch_related("ci_classes", "business_services")

    def get_add_url(self):
        return reverse("changes:blackout_add")

    def get_filter_data(self):
        data = self.request.GET.copy()
        if not data.get("end_after") and "all" not in data:
            data["end_after"] = timezone.now().isoformat()  # upcoming and current by default
        return data

    def get_filterset(self):
        filterset = super().get_filterset()
        form = filterset.form
        form.fields["environment"].widget.attrs["size"] = 3
        form.fields["active"].widget.choices = [("unknown", "Any"), ("true", "Active"), ("false", "Inactive")]
        return filterset

    def get_context_data(self, **kwargs):
        kwargs.update(title="Blackout windows", showing_all="all" in self.request.GET)
        return super().get_context_data(**kwargs)


class BlackoutDetailView(ObjectDetailView):
    model = BlackoutWindow
    template_name = "changes/blackout_detail.html"

    def get_queryset(self):
        return BlackoutWindow.objects.prefetch_related("ci_classes", "business_services")

    def get_template_names(self):
        return [self.template_name]

    def get_context_data(self, **kwargs):
        window = self.object
        overlapping = ChangeRequest.objects.filter(
            state__in=BOOKED_STATES, planned_start__lt=window.end, planned_end__gt=window.start
        ).select_related("assignment_team")
        kwargs.update(
            scope=scope_text(window),
            overlapping=list(overlapping.order_by("planned_start", "pk")[:OVERLAPPING_SHOWN]),
        )
        return super().get_context_data(**kwargs)


class BlackoutEditView(ObjectEditView):
    model = BlackoutWindow
    form_class = BlackoutForm
    template_name = "changes/blackout_form.html"

    def get_success_url(self):
        return self.object.get_absolute_url()


class BlackoutDeleteView(ObjectDeleteView):
    model = BlackoutWindow

    def get_success_url(self):
        return reverse("changes:blackout_list")


class BlackoutHistoryView(ObjectHistoryView):
    model = BlackoutWindow
    template_name = "changes/blackout_history.html"
