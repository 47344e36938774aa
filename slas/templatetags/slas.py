"""Template helpers of the SLA badge and timeline (``{% load slas %}``)."""

from django import template

from slas.businesstime import COUNTED, HOLIDAY, OUT_OF_HOURS, PAUSED, WEEKEND
from slas.selectors import clock_status

register = template.Library()

KIND_LABELS = {
    COUNTED: "Counted",
    PAUSED: "Paused",
    OUT_OF_HOURS: "Out of hours",
    HOLIDAY: "Holiday",
    WEEKEND: "Weekend",
}
KIND_TONES = {COUNTED: "primary", PAUSED: "warning", OUT_OF_HOURS: "secondary", HOLIDAY: "info", WEEKEND: "light"}


@register.simple_tag(takes_context=True)
def sla_status(context, clock):
    """``{% sla_status clock as s %}``: the clock's live figures (``slas.selectors.ClockStatus``)
    as of ``sla_now`` in the context (default: now), once per clock and instant."""
    now = context.get("sla_now")
    cached = clock.__dict__.get("_template_status")
    if cached is None or (now is not None and cached.now != now):
        cached = clock.__dict__["_template_status"] = clock_status(clock, now)
    return cached


@register.filter
def business_duration(seconds):
    """``9000`` → ``2 h 30 min``; minutes rounded, hours not folded into days (business time)."""
    if seconds is None or seconds == "":
        return "—"
    minutes = round(abs(float(seconds)) / 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes:02d} min"
    if hours:
        return f"{hours} h"
    return f"{minutes} min"


@register.filter
def minutes_duration(minutes):
    """A target in minutes, shown as ``business_duration`` shows seconds."""
    return business_duration(int(minutes) * 60) if minutes not in (None, "") else "—"


@register.filter
def segment_label(kind):
    return KIND_LABELS.get(kind, kind)


@register.filter
def segment_tone(kind):
    return KIND_TONES.get(kind, "secondary")
