"""Serializers of the SLA resources (``/api/v1/sla/``) and of the clocks other resources embed.

Calendars carry their working hours and holidays, policies their targets, as nested lists; a
write that includes such a list replaces it (items left out are deleted). Times are ``HH:MM`` in
the calendar's time zone; an ``end`` of ``24:00`` (or ``00:00``) is midnight at the end of the day.
"""

import datetime as dt

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Team
from cmdb.models import CI, CIClass
from itom.api.serializers import ValidatedModelSerializer
from slas.choices import Metric
from slas.models import BusinessCalendar, Holiday, SLAClock, SLAPolicy, SLATarget, WorkingHours
from slas.public_holidays import MAX_YEAR, MIN_YEAR
from slas.selectors import clock_status


class BriefPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = SLAPolicy
        fields = ["id", "name"]


class BriefCalendarSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessCalendar
        fields = ["id", "name"]


class SLAClockSerializer(serializers.ModelSerializer):
    """One SLA clock, read-only, for embedding in the object it times (``"sla": [...]`` of an
    incident). Load the clocks with ``slas.selectors.clock_prefetch()``: the figures then cost
    no query. ``elapsed_seconds``, ``remaining_seconds`` (negative once the target has passed)
    and ``percent`` are business time, live at the moment of the response (``context["now"]``
    when given)."""

    target_minutes = serializers.SerializerMethodField(help_text="The target, in business minutes.")
    elapsed_seconds = serializers.SerializerMethodField(help_text="Business seconds counted so far.")
    remaining_seconds = serializers.SerializerMethodField(
        help_text="Business seconds left before the target (negative: over it by that much)."
    )
    percent = serializers.SerializerMethodField(help_text="Share of the target used, in percent.")
    breached = serializers.SerializerMethodField(help_text="The target has passed (running or stopped).")
    label = serializers.SerializerMethodField(help_text="On track, At risk, Overdue, Paused, Met, Breached, Canceled.")
    policy = BriefPolicySerializer(read_only=True, allow_null=True)
    calendar = BriefCalendarSerializer(read_only=True)

    class Meta:
        model = SLAClock
        fields = [
            "id",
            "metric",
            "state",
            "label",
            "priority",
            "target_minutes",
            "started_at",
            "due_at",
            "elapsed_seconds",
            "remaining_seconds",
            "percent",
            "warned_pct",
            "breached",
            "breached_at",
            "stopped_at",
            "policy",
            "calendar",
        ]
        read_only_fields = fields

    def _status(self, clock):
        cached = clock.__dict__.get("_api_status")
        if cached is None:
            now = self.context.get("now")
            if now is None:
                now = self.context["now"] = timezone.now()
            cached = clock.__dict__["_api_status"] = clock_status(clock, now)
        return cached

    def get_target_minutes(self, clock) -> float:
        minutes = clock.target_seconds / 60
        return int(minutes) if minutes == int(minutes) else round(minutes, 2)

    def get_elapsed_seconds(self, clock) -> int:
        return round(self._status(clock).elapsed_seconds)

    def get_remaining_seconds(self, clock) -> int:
        return round(self._status(clock).remaining_seconds)

    def get_percent(self, clock) -> float:
        return self._status(clock).percent

    def get_breached(self, clock) -> bool:
        return self._status(clock).breached

    def get_label(self, clock) -> str:
        return self._status(clock).label


# --- calendars -------------------------------------------------------------------------------


@extend_schema_field({"type": "string", "example": "18:00", "pattern": r"^\d{2}:\d{2}$"})
class WallTimeField(serializers.Field):
    """``HH:MM`` (seconds optional); ``24:00`` means midnight at the end of the day and is
    shown as such for an ``end``."""

    default_error_messages = {"invalid": "Expected a time as HH:MM, from 00:00 to 24:00."}

    def __init__(self, end=False, **kwargs):
        self.end = end
        super().__init__(**kwargs)

    def to_representation(self, value):
        if self.end and value == dt.time(0, 0):
            return "24:00"
        return value.strftime("%H:%M") if value.second == 0 else value.strftime("%H:%M:%S")

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        text = data.strip()
        if text in ("24:00", "24:00:00"):
            if not self.end:
                self.fail("invalid")
            return dt.time(0, 0)
        for pattern in ("%H:%M", "%H:%M:%S"):
            try:
                return dt.datetime.strptime(text, pattern).time()
            except ValueError:
                continue
        self.fail("invalid")


class WorkingHoursSerializer(serializers.ModelSerializer):
    start = WallTimeField()
    end = WallTimeField(end=True, help_text="24:00 (or 00:00): midnight at the end of the day.")

    class Meta:
        model = WorkingHours
        fields = ["weekday", "start", "end"]

    def validate(self, attrs):
        start, end = attrs["start"], attrs["end"]
        if end <= start and end != dt.time(0, 0):
            raise serializers.ValidationError({"end": "The end must be after the start."})
        return attrs


class HolidaySerializer(serializers.ModelSerializer):
    class Meta:
        model = Holiday
        fields = ["date", "name"]
        validators = []  # the unique date per calendar is checked over the whole list


class CalendarSerializer(ValidatedModelSerializer):
    """A business calendar. ``hours`` and ``holidays``, when written, replace the calendar's."""

    hours = WorkingHoursSerializer(many=True, required=False, help_text="Weekly working intervals (0 = Monday).")
    holidays = HolidaySerializer(many=True, required=False, help_text="Whole days that do not count.")

    class Meta:
        model = BusinessCalendar
        fields = [
            "id",
            "display",
            "name",
            "description",
            "time_zone",
            "always_open",
            "hours",
            "holidays",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        hours = attrs.pop("hours", None)
        holidays = attrs.pop("holidays", None)
        attrs = super().validate(attrs)
        if holidays is not None:
            seen, errors = set(), {}
            for position, item in enumerate(holidays):
                if item["date"] in seen:
                    errors[str(position)] = {"date": [f"{item['date']:%Y-%m-%d} appears more than once."]}
                seen.add(item["date"])
            if errors:
                raise serializers.ValidationError({"holidays": errors})
            attrs["holidays"] = [(item["date"], item["name"]) for item in holidays]
        if hours is not None:
            attrs["hours"] = [WorkingHours(**item) for item in hours]
        return attrs


class PrefillHolidaysSerializer(serializers.Serializer):
    country = serializers.CharField(max_length=3, help_text="ISO 3166 code, e.g. FR, US, DE.")
    year = serializers.IntegerField(min_value=MIN_YEAR, max_value=MAX_YEAR)
    subdivision = serializers.CharField(
        max_length=10,
        required=False,
        allow_blank=True,
        allow_null=True,
        default="",
        help_text="A region code, e.g. CA (California); empty or null: the whole country.",
    )


class PrefillResultSerializer(serializers.Serializer):
    created = HolidaySerializer(many=True, help_text="The holidays added.")
    skipped = serializers.IntegerField(help_text="Public holidays whose date the calendar already had.")


# --- policies --------------------------------------------------------------------------------


class TargetSerializer(serializers.ModelSerializer):
    minutes = serializers.IntegerField(min_value=1, max_value=10_000_000, help_text="Business minutes.")

    class Meta:
        model = SLATarget
        fields = ["metric", "priority", "minutes"]
        validators = []  # one per metric and priority: checked over the whole list


class PolicySerializer(ValidatedModelSerializer):
    """An SLA policy: which incidents it applies to (empty criteria match everything), on which
    calendar, the targets per metric and priority, the states that pause its clocks and the
    warning thresholds. ``targets``, when written, replace the policy's."""

    calendar = serializers.PrimaryKeyRelatedField(queryset=BusinessCalendar.objects.all())
    calendar_name = serializers.CharField(source="calendar.name", read_only=True)
    priorities = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=5), required=False, help_text="Empty: every priority."
    )
    pause_states = serializers.ListField(child=serializers.CharField(max_length=30), required=False)
    warning_thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=99),
        required=False,
        help_text="Percentages, e.g. [75, 90].",
    )
    teams = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all(), many=True, required=False)
    ci_classes = serializers.PrimaryKeyRelatedField(queryset=CIClass.objects.all(), many=True, required=False)
    business_services = serializers.PrimaryKeyRelatedField(
        queryset=CI.objects.filter(ci_class__is_business_service=True), many=True, required=False
    )
    targets = TargetSerializer(many=True, required=False)

    class Meta:
        model = SLAPolicy
        fields = [
            "id",
            "display",
            "name",
            "description",
            "active",
            "order",
            "calendar",
            "calendar_name",
            "priorities",
            "teams",
            "ci_classes",
            "business_services",
            "pause_states",
            "warning_thresholds",
            "targets",
            "created_at",
            "updated_at",
        ]

    def validate(self, attrs):
        targets = attrs.pop("targets", None)
        attrs = super().validate(attrs)
        if targets is not None:
            seen, errors = set(), {}
            for position, item in enumerate(targets):
                key = (item["metric"], item["priority"])
                if key in seen:
                    errors[str(position)] = {
                        "priority": [f"A second {Metric(item['metric']).label.lower()} target for P{item['priority']}."]
                    }
                seen.add(key)
            if errors:
                raise serializers.ValidationError({"targets": errors})
            attrs["targets"] = [SLATarget(**item) for item in targets]
        return attrs
