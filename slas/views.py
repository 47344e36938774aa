"""The SLA pages: business calendars (weekly hours, holidays, the public-holiday pre-fill) and SLA
policies (criteria and targets). Every role may read them; managers change them (the generic
views check ``slas.<action>_<model>``). Writes go through ``slas.services``."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.views import generic

from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    ObjectListView,
    PortalPermissionMixin,
)
from slas import services
from slas.businesstime import WEEKDAY_NAMES
from slas.choices import ACTIVE_CLOCK_STATES, Metric
from slas.filters import CalendarFilterSet, PolicyPageFilterSet
from slas.forms import CalendarForm, HolidayForm, HoursFormSet, PolicyForm, PrefillHolidaysForm
from slas.models import BusinessCalendar, Holiday, SLAPolicy
from slas.selectors import schedule_for
from slas.states import state_label


class Cell(str):
    """A list cell with its own (escaped) markup, and its text in the CSV export."""

    def __new__(cls, text, html):
        cell = super().__new__(cls, text)
        cell.html = html
        return cell

    def __html__(self):
        return self.html


def _errors_to_form(form, exc):
    errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
    for field, field_messages in errors.items():
        for message in field_messages:
            if field in form.fields:
                form.add_error(field, message)
            else:
                form.add_error(None, f"{field}: {message}" if field and field != "__all__" else message)


# --- calendars -------------------------------------------------------------------------------


class WeeklyHoursColumn(Column):
    def value(self, calendar):
        if calendar.always_open:
            return "24 × 7"
        schedule = schedule_for(calendar)
        days = [
            f"{name[:3]} {schedule.describe_hours(day)}"
            for day, name in enumerate(WEEKDAY_NAMES)
            if schedule.hours[day]
        ]
        return "; ".join(days) or "No working hours"


class CalendarListView(ObjectListView):
    model = BusinessCalendar
    filterset_class = CalendarFilterSet
    template_name = "slas/calendar_list.html"
    columns = [
        Column("name", link=True),
        Column("time_zone"),
        WeeklyHoursColumn("hours", label="Working hours", sortable=False),
        Column("holiday_count", label="Holidays from today"),
        Column("policy_count", label="Policies"),
    ]

    def get_base_queryset(self):
        today = timezone.localdate()
        return BusinessCalendar.objects.prefetch_related("hours", "holidays").annotate(
            holiday_count=Count("holidays", filter=Q(holidays__date__gte=today), distinct=True),
            policy_count=Count("policies", distinct=True),
        )


class CalendarDetailView(ObjectDetailView):
    model = BusinessCalendar
    template_name = "slas/businesscalendar_detail.html"
    fields = ["description", "time_zone", ("24 × 7", "always_open")]

    def get_context_data(self, **kwargs):
        calendar = self.object
        schedule = schedule_for(calendar)
        years = sorted({h.date.year for h in calendar.holidays.all()})
        current = timezone.localdate().year
        year = self.request.GET.get("year", "")
        shown_year = int(year) if year.isdigit() else None
        holidays = calendar.holidays.all()
        if shown_year:
            holidays = holidays.filter(date__year=shown_year)
        else:
            holidays = holidays.filter(date__year__gte=current)
        holiday_form = kwargs.get("holiday_form") or HolidayForm()
        bootstrap_form(holiday_form)
        kwargs.update(
            weekly=[(name, schedule.describe_hours(day)) for day, name in enumerate(WEEKDAY_NAMES)],
            holidays=holidays.order_by("date"),
            holiday_years=years,
            shown_year=shown_year,
            current_year=current,
            policies=calendar.policies.order_by("order", "name"),
            open_clocks=calendar.clocks.filter(state__in=ACTIVE_CLOCK_STATES).count(),
            holiday_form=holiday_form,
            prefill_form=kwargs.get("prefill_form") or PrefillHolidaysForm(),
            can_change_holidays=self.request.user.has_perm("slas.change_businesscalendar"),
        )
        return super().get_context_data(**kwargs)


class CalendarEditView(ObjectEditView):
    """A calendar and its weekly working hours in one form, saved by ``services.save_calendar``."""

    model = BusinessCalendar
    form_class = CalendarForm
    template_name = "slas/businesscalendar_form.html"

    def get_formset(self, instance):
        data = self.request.POST if self.request.method == "POST" else None
        return HoursFormSet(data, instance=instance, prefix="hours")

    def get_context_data(self, **kwargs):
        if "formset" not in kwargs:
            kwargs["formset"] = self.get_formset(self.object or BusinessCalendar())
        return super().get_context_data(**kwargs)

    def post(self, request, *args, **kwargs):
        self.object = self.get_object()
        form = self.get_form()
        formset = self.get_formset(form.instance)
        if form.is_valid() and formset.is_valid():
            calendar = form.save(commit=False)
            rows = formset.rows()
            unsaved = [obj for obj in (calendar, *rows) if obj.pk is None]
            try:
                with transaction.atomic():
                    self.object = services.save_calendar(calendar, hours=rows)
            except ValidationError as exc:
                for obj in unsaved:  # their rows were rolled back
                    obj.pk, obj._state.adding = None, True
                self.object = calendar if calendar.pk else None
                _errors_to_form(form, exc)
                return self.render_to_response(self.get_context_data(form=form, formset=formset))
            messages.success(request, f"Saved calendar “{self.object}”.")
            return redirect(self.object.get_absolute_url())
        return self.render_to_response(self.get_context_data(form=form, formset=formset))


class CalendarDeleteView(ObjectDeleteView):
    model = BusinessCalendar

    def delete_object(self, obj):
        services.delete_calendar(obj)

    def get_success_url(self):
        return reverse("slas:calendar_list")


class CalendarHistoryView(ObjectHistoryView):
    model = BusinessCalendar


class _CalendarActionView(PortalPermissionMixin, generic.View):
    """A POST that changes a calendar's holidays (managers: ``slas.change_businesscalendar``)."""

    model = BusinessCalendar
    permission_action = "change"
    http_method_names = ["post"]

    def calendar(self):
        return get_object_or_404(BusinessCalendar.objects.select_for_update(), pk=self.kwargs["pk"])

    def rerender(self, calendar, **forms):
        view = CalendarDetailView()
        view.setup(self.request, pk=calendar.pk)
        view.object = calendar
        return view.render_to_response(view.get_context_data(object=calendar, **forms), status=400)


class HolidayAddView(_CalendarActionView):
    def post(self, request, pk):
        with transaction.atomic():
            calendar = self.calendar()
            form = HolidayForm(request.POST, instance=Holiday(calendar=calendar))
            if form.is_valid():
                try:
                    holiday = services.add_holiday(calendar, form.cleaned_data["date"], form.cleaned_data["name"])
                except ValidationError as exc:
                    _errors_to_form(form, exc)
                else:
                    messages.success(request, f"Added holiday {holiday.date:%d %b %Y} “{holiday.name}”.")
                    return redirect(f"{calendar.get_absolute_url()}?year={holiday.date.year}#holidays")
        return self.rerender(calendar, holiday_form=form)


class HolidayDeleteView(_CalendarActionView):
    def post(self, request, pk, holiday_pk):
        with transaction.atomic():
            calendar = self.calendar()
            holiday = get_object_or_404(Holiday, pk=holiday_pk, calendar=calendar)
            services.delete_holiday(holiday)
        messages.success(request, f"Removed holiday {holiday.date:%d %b %Y} “{holiday.name}”.")
        return redirect(f"{calendar.get_absolute_url()}?year={holiday.date.year}#holidays")


class HolidayPrefillView(_CalendarActionView):
    def post(self, request, pk):
        with transaction.atomic():
            calendar = self.calendar()
            form = PrefillHolidaysForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    created, skipped = services.prefill_holidays(
                        calendar, data["country"], data["year"], data.get("subdivision", "")
                    )
                except ValidationError as exc:
                    _errors_to_form(form, exc)
                else:
                    kept = f"; {skipped} date{'s' if skipped != 1 else ''} already there kept" if skipped else ""
                    messages.success(
                        request,
                        f"Added {len(created)} public holiday{'s' if len(created) != 1 else ''} of "
                        f"{dict(form.fields['country'].choices).get(data['country'], data['country'])} "
                        f"for {data['year']}{kept}.",
                    )
                    return redirect(f"{calendar.get_absolute_url()}?year={data['year']}#holidays")
        return self.rerender(calendar, prefill_form=form)


# --- policies --------------------------------------------------------------------------------


class PrioritiesColumn(Column):
    def value(self, policy):
        return ", ".join(f"P{p}" for p in policy.priorities) if policy.priorities else "All"


class TargetsColumn(Column):
    """``Response P1 15 min · …`` as a compact list."""

    def value(self, policy):
        from slas.templatetags.slas import business_duration

        parts = []
        for metric in Metric:
            cells = [
                f"P{t.priority} {business_duration(t.minutes * 60)}"
                for t in sorted(policy.targets.all(), key=lambda t: t.priority)
                if t.metric == metric
            ]
            if cells:
                parts.append((metric.label, ", ".join(cells)))
        text = "; ".join(f"{label}: {cells}" for label, cells in parts)
        html = format_html_join(
            "", '<div class="small text-nowrap"><span class="text-body-secondary">{}:</span> {}</div>', parts
        )
        return Cell(text, html)


class PolicyListView(ObjectListView):
    model = SLAPolicy
    filterset_class = PolicyPageFilterSet
    template_name = "slas/policy_list.html"
    queryset = SLAPolicy.objects.select_related("calendar").prefetch_related("targets")
    columns = [
        Column("order"),
        Column("name", link=True),
        Column("active"),
        Column("calendar.name", label="Calendar", sort="calendar__name"),
        PrioritiesColumn("priorities", sortable=False),
        TargetsColumn("targets", label="Targets", sortable=False),
    ]


class PolicyDetailView(ObjectDetailView):
    model = SLAPolicy
    template_name = "slas/slapolicy_detail.html"
    queryset = SLAPolicy.objects.select_related("calendar").prefetch_related(
        "targets", "teams", "ci_classes", "business_services"
    )
    fields = ["description", "active", "order"]

    def get_context_data(self, **kwargs):
        policy = self.object
        grid = []
        for metric in Metric:
            minutes = {t.priority: t.minutes for t in policy.targets.all() if t.metric == metric}
            grid.append((metric.label, [minutes.get(p) for p in range(1, 6)]))
        kwargs.update(
            target_grid=grid,
            pause_labels=[state_label(s) for s in policy.pause_states],
            open_clocks=policy.clocks.filter(state__in=ACTIVE_CLOCK_STATES).count(),
        )
        return super().get_context_data(**kwargs)


class PolicyEditView(ObjectEditView):
    model = SLAPolicy
    form_class = PolicyForm
    template_name = "slas/slapolicy_form.html"

    def get_initial(self):
        initial = super().get_initial()
        if "pk" not in self.kwargs:
            calendar = BusinessCalendar.objects.order_by("name").first()
            if calendar is not None:
                initial["calendar"] = calendar
        return initial

    def save_form(self, form):
        data = form.cleaned_data
        return services.save_policy(
            form.save(commit=False),
            targets=form.targets(),
            teams=data["teams"],
            ci_classes=data["ci_classes"],
            business_services=data["business_services"],
        )


class PolicyDeleteView(ObjectDeleteView):
    model = SLAPolicy

    def delete_object(self, obj):
        services.delete_policy(obj)

    def get_success_url(self):
        return reverse("slas:policy_list")


class PolicyHistoryView(ObjectHistoryView):
    model = SLAPolicy
