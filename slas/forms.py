"""Forms of the SLA pages: calendars with their working hours (an inline formset), holidays one
at a time and the public-holiday pre-fill, policies with their targets (a grid of minutes)."""

import datetime as dt
import itertools
import zoneinfo

from django import forms
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.utils import timezone

from accounts.models import Team
from cmdb.models import CI, CIClass
from itom.forms import bootstrap_form
from slas.choices import Metric
from slas.models import BusinessCalendar, Holiday, SLAPolicy, WorkingHours
from slas.public_holidays import MAX_YEAR, MIN_YEAR, countries
from slas.states import subject_states

PRIORITIES = range(1, 6)


def time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name or name == "UTC"]


class CalendarForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=time_zone_choices, help_text="Working hours are wall-clock times here.")

    class Meta:
        model = BusinessCalendar
        fields = ["name", "description", "time_zone", "always_open"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}


class EndTimeField(forms.TimeField):
    """A time where ``24:00`` means midnight at the end of the day (stored as 00:00)."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() in ("24:00", "24:00:00"):
            return dt.time(0, 0)
        return super().to_python(value)


class WorkingHoursForm(forms.ModelForm):
    start = forms.TimeField(widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}))
    end = EndTimeField(
        widget=forms.TimeInput(format="%H:%M", attrs={"type": "time"}),
        help_text="00:00 means midnight at the end of the day.",
    )

    class Meta:
        model = WorkingHours
        fields = ["weekday", "start", "end"]


class BaseHoursFormSet(BaseInlineFormSet):
    """The calendar's working intervals; two that overlap on the same weekday are refused."""

    styled = True

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if self.styled:
            bootstrap_form(form)

    def rows(self):
        """The intervals to keep: existing rows not deleted and filled-in new rows."""
        kept = []
        for form in self.forms:
            if self._should_delete_form(form) or not getattr(form, "cleaned_data", None):
                continue
            if form.instance.pk is None and not form.has_changed():
                continue
            kept.append(form.instance)
        return kept

    def clean(self):
        super().clean()
        by_day = {}
        for form in self.forms:
            if self._should_delete_form(form) or not getattr(form, "cleaned_data", None):
                continue
            data = form.cleaned_data
            if not data.get("start") or data.get("end") is None or data.get("weekday") is None:
                continue
            start = data["start"].hour * 60 + data["start"].minute
            end = data["end"].hour * 60 + data["end"].minute or 24 * 60
            by_day.setdefault(data["weekday"], []).append((start, end, form))
        for intervals in by_day.values():
            intervals.sort(key=lambda item: item[:2])
            for (_s1, e1, _first), (s2, _e2, second) in itertools.pairwise(intervals):
                if s2 < e1:
                    second.add_error("start", "Overlaps another interval of the same day.")


HoursFormSet = inlineformset_factory(
    BusinessCalendar, WorkingHours, form=WorkingHoursForm, formset=BaseHoursFormSet, extra=1, can_delete=True
)


class HolidayForm(forms.ModelForm):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = Holiday
        fields = ["date", "name"]


class PrefillHolidaysForm(forms.Form):
    country = forms.ChoiceField(choices=lambda: [("", "Choose a country…"), *countries()])
    subdivision = forms.CharField(
        required=False, max_length=10, help_text="Optional region code, e.g. CA for California, 57 for Moselle."
    )
    year = forms.IntegerField(min_value=MIN_YEAR, max_value=MAX_YEAR)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].initial = timezone.localdate().year
        bootstrap_form(self)


def _minutes_field(label):
    return forms.IntegerField(
        required=False,
        min_value=1,
        max_value=10_000_000,
        label=label,
        widget=forms.NumberInput(attrs={"placeholder": "—", "style": "width: 7rem"}),
    )


class PolicyForm(forms.ModelForm):
    """A policy and its targets: one minutes field per metric and priority (empty: no target)."""

    priorities = forms.TypedMultipleChoiceField(
        choices=[(p, f"P{p}") for p in PRIORITIES],
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: every priority.",
    )
    pause_states = forms.MultipleChoiceField(
        choices=subject_states,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The clocks stop counting while the incident is in these states.",
    )
    warning_thresholds = forms.CharField(
        required=False, help_text="Percentages of the target that raise a warning, comma-separated (e.g. 75, 90)."
    )
    teams = forms.ModelMultipleChoiceField(
        queryset=Team.objects.order_by("name"), required=False, help_text="Empty: every team."
    )
    ci_classes = forms.ModelMultipleChoiceField(
        queryset=CIClass.objects.order_by("name"),
        required=False,
        label="CI classes",
        help_text="Incidents on CIs of these classes (or their subclasses); empty: any.",
    )
    business_services = forms.ModelMultipleChoiceField(
        queryset=CI.objects.filter(ci_class__is_business_service=True).order_by("name"),
        required=False,
        help_text="Incidents affecting these business services; empty: any.",
    )

    class Meta:
        model = SLAPolicy
        fields = [
            "name",
            "description",
            "active",
            "order",
            "calendar",
            "priorities",
            "teams",
            "ci_classes",
            "business_services",
            "pause_states",
            "warning_thresholds",
        ]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for metric in Metric:
            for priority in PRIORITIES:
                self.fields[self.target_field(metric, priority)] = _minutes_field(f"{metric.label} P{priority}")
        if self.instance.pk:
            self.initial["warning_thresholds"] = ", ".join(str(t) for t in self.instance.warning_thresholds or [])
            for target in self.instance.targets.all():
                self.initial[self.target_field(target.metric, target.priority)] = target.minutes
        else:
            self.initial.setdefault("warning_thresholds", "75, 90")
            self.initial.setdefault("pause_states", ["on_hold"])
        bootstrap_form(self)

    main = ("name", "description", "active", "order", "calendar", "pause_states", "warning_thresholds")
    criteria = ("priorities", "teams", "ci_classes", "business_services")

    @property
    def main_fields(self):
        return [self[name] for name in self.main]

    @property
    def criteria_fields(self):
        return [self[name] for name in self.criteria]

    @staticmethod
    def target_field(metric, priority):
        return f"target_{metric}_{priority}"

    def target_rows(self):
        """``[(metric label, [bound field per priority])]`` for the grid in the template."""
        return [
            (metric.label, [self[self.target_field(metric, priority)] for priority in PRIORITIES]) for metric in Metric
        ]

    def clean_warning_thresholds(self):
        text = self.cleaned_data.get("warning_thresholds") or ""
        values = []
        for part in text.replace(";", ",").split(","):
            part = part.strip().rstrip("%").strip()
            if not part:
                continue
            if not part.isdigit():
                raise forms.ValidationError(f"“{part}” is not a whole percentage.")
            values.append(int(part))
        return values

    def targets(self):
        """``[(metric, priority, minutes)]`` of the filled-in grid cells."""
        return [
            (metric.value, priority, self.cleaned_data[self.target_field(metric, priority)])
            for metric in Metric
            for priority in PRIORITIES
            if self.cleaned_data.get(self.target_field(metric, priority))
        ]

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.targets():
            raise forms.ValidationError("Give at least one target (minutes for a metric and priority).")
        return cleaned
