"""The SLA configuration in the admin console (managers): calendars with their hours and holidays,
policies with their targets, and the clocks (read-only: only ``slas.services`` moves a clock).
Writes go through ``slas.services`` like everywhere else."""

from django.contrib import admin

from slas import services
from slas.forms import BaseHoursFormSet, WorkingHoursForm
from slas.models import BusinessCalendar, Holiday, SLAClock, SLAClockEvent, SLAPolicy, SLATarget, WorkingHours


class AdminHoursFormSet(BaseHoursFormSet):
    styled = False


def kept_rows(formset):
    """The rows a saved inline formset leaves: existing ones not deleted, and the new ones filled in."""
    formset.save(commit=False)  # sorts the rows into new, changed and deleted (the change message)
    kept = []
    for form in formset.forms:
        if formset._should_delete_form(form) or not getattr(form, "cleaned_data", None):
            continue
        if form.instance.pk is None and not form.has_changed():
            continue
        kept.append(form.instance)
    return kept


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    form = WorkingHoursForm
    formset = AdminHoursFormSet
    fields = ["weekday", "start", "end"]
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    fields = ["date", "name"]
    extra = 0
    ordering = ["-date"]


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone", "always_open", "hours_count", "holiday_count"]
    list_filter = ["always_open", "time_zone"]
    search_fields = ["name", "description", "time_zone"]
    inlines = [WorkingHoursInline, HolidayInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .annotate(_hours=Count("hours", distinct=True), _holidays=Count("holidays", distinct=True))
        )

    @admin.display(ordering="_hours", description="Working intervals")
    def hours_count(self, calendar):
        return calendar._hours

    @admin.display(ordering="_holidays", description="Holidays")
    def holiday_count(self, calendar):
        return calendar._holidays

    def save_model(self, request, obj, form, change):
        """Saved with its hours and holidays in ``save_related``: one ``save_calendar`` call."""

    def save_related(self, request, form, formsets, change):
        hours = holidays = None
        for formset in formsets:
            if formset.model is WorkingHours:
                hours = kept_rows(formset)
            elif formset.model is Holiday:
                holidays = [(h.date, h.name) for h in kept_rows(formset)]
        services.save_calendar(form.instance, hours=hours, holidays=holidays)

    def delete_model(self, request, obj):
        services.delete_calendar(obj)


class SLATargetInline(admin.TabularInline):
    model = SLATarget
    fields = ["metric", "priority", "minutes"]
    extra = 0


@admin.register(SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "order", "active", "calendar", "priorities"]
    list_filter = ["active", "calendar"]
    list_select_related = ["calendar"]
    search_fields = ["name", "description"]
    ordering = ["order", "name"]
    autocomplete_fields = ["calendar", "teams", "ci_classes", "business_services"]
    inlines = [SLATargetInline]

    def save_model(self, request, obj, form, change):
        """Saved with its targets and criteria in ``save_related``: one ``save_policy`` call."""

    def save_related(self, request, form, formsets, change):
        targets = None
        for formset in formsets:
            if formset.model is SLATarget:
                targets = [(t.metric, t.priority, t.minutes) for t in kept_rows(formset)]
        data = form.cleaned_data
        services.save_policy(
            form.instance,
            targets=targets,
            teams=data.get("teams"),
            ci_classes=data.get("ci_classes"),
            business_services=data.get("business_services"),
        )

    def delete_model(self, request, obj):
        services.delete_policy(obj)


class SLAClockEventInline(admin.TabularInline):
    model = SLAClockEvent
    fields = ["time", "kind", "reason", "data"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(SLAClock)
class SLAClockAdmin(admin.ModelAdmin):
    """Clocks, to look at: they move only through ``slas.services`` (the incident services and
    the scan), so nothing here changes one."""

    list_display = ["__str__", "metric", "priority", "state", "due_at", "breached_at", "policy", "calendar"]
    list_filter = ["state", "metric", "priority", "policy", "calendar"]
    list_select_related = ["content_type", "policy", "calendar"]
    date_hierarchy = "started_at"
    inlines = [SLAClockEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
