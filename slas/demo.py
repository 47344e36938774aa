"""Demo SLA configuration for ``manage.py seed_demo``: an "Office hours" calendar (Monday to Friday
08:00–18:00, Europe/Paris, with the French public holidays of this year and the next), a "24 × 7"
calendar, and two policies: "Critical incidents (24 × 7)" for P1–P2 and "Standard incidents
(office hours)" for P3–P5, each with response and resolution targets.

Idempotent: calendars and policies are looked up by name; what exists is left as an operator may
have edited it, except that missing holidays of the two years are added.
"""

import datetime as dt

from django.utils import timezone

from slas import services
from slas.models import BusinessCalendar, SLAPolicy

OFFICE_HOURS, ALWAYS = "Office hours", "24 × 7"
CRITICAL, STANDARD = "Critical incidents (24 × 7)", "Standard incidents (office hours)"

# metric → {priority: minutes}
CRITICAL_TARGETS = {"response": {1: 15, 2: 30}, "resolution": {1: 4 * 60, 2: 8 * 60}}
STANDARD_TARGETS = {"response": {3: 2 * 60, 4: 8 * 60, 5: 16 * 60}, "resolution": {3: 16 * 60, 4: 40 * 60, 5: 80 * 60}}


def _targets(table):
    return [(metric, priority, minutes) for metric, row in table.items() for priority, minutes in row.items()]


def seed(stdout=None):
    created = []
    office = BusinessCalendar.objects.filter(name=OFFICE_HOURS).first()
    if office is None:
        office = services.save_calendar(
            BusinessCalendar(
                name=OFFICE_HOURS,
                time_zone="Europe/Paris",
                description="The service desk's hours: Monday to Friday, 08:00–18:00 Paris time, "
                "French public holidays off.",
            ),
            hours=[(day, dt.time(8), dt.time(18)) for day in range(5)],
        )
        created.append(OFFICE_HOURS)
    year = timezone.localdate().year
    added = 0
    for y in (year, year + 1):
        new, _ = services.prefill_holidays(office, "FR", y)
        added += len(new)

    always = BusinessCalendar.objects.filter(name=ALWAYS).first()
    if always is None:
        always = services.save_calendar(
            BusinessCalendar(
                name=ALWAYS, time_zone="Europe/Paris", always_open=True, description="Every hour of every day counts."
            )
        )
        created.append(ALWAYS)

    if not SLAPolicy.objects.filter(name=CRITICAL).exists():
        services.save_policy(
            SLAPolicy(
                name=CRITICAL,
                order=10,
                calendar=always,
                priorities=[1, 2],
                description="Critical and high incidents are worked around the clock.",
            ),
            targets=_targets(CRITICAL_TARGETS),
        )
        created.append(CRITICAL)
    if not SLAPolicy.objects.filter(name=STANDARD).exists():
        services.save_policy(
            SLAPolicy(
                name=STANDARD,
                order=20,
                calendar=office,
                priorities=[3, 4, 5],
                description="Moderate, low and planning incidents count office hours only.",
            ),
            targets=_targets(STANDARD_TARGETS),
        )
        created.append(STANDARD)
    if stdout is not None:
        stdout.write(
            f"  slas: 2 calendars and 2 policies ({len(created)} new), {added} holiday(s) added for {year}–{year + 1}"
        )
    return created
