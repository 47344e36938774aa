"""The incident area's navigation entry and its home-page panels: my work, breaching soon, open
incidents by priority."""

from django.db.models import Count
from django.urls import reverse
from django.utils.http import urlencode

from incidents.choices import OPEN_STATES, Priority
from incidents.filters.incidents import IncidentFilterSet
from incidents.models import Incident
from incidents.views.incidents import badge_clocks, headline_clock, sla_due_subquery
from itom import dashboard, navigation

PANEL_ROWS = 8  # incidents listed in a home-page panel


def _queue_panel(request, name, order_by):
    """The first PANEL_ROWS incidents of queue ``name`` (the queue tabs' own filter), the count and
    the queue's URL; None for someone who may not see incidents."""
    if not request.user.has_perm("incidents.view_incident"):
        return None
    queryset = IncidentFilterSet(
        {"queue": name},
        queryset=Incident.objects.select_related("assignment_team", "assignee").prefetch_related(badge_clocks()),
        request=request,
    ).qs
    queryset = order_by(queryset.filter(state__in=OPEN_STATES))
    rows = list(queryset[:PANEL_ROWS])
    for incident in rows:
        incident.headline_clock = headline_clock(incident.sla_clocks.all())
    count = len(rows) if len(rows) < PANEL_ROWS else queryset.count()
    return {"incidents": rows, "count": count, "url": f"{reverse('incidents:incident_list')}?queue={name}"}


def my_work_panel(request):
    return _queue_panel(request, "mine", lambda qs: qs.order_by("priority", "created_at", "pk"))


def breaching_panel(request):
    return _queue_panel(
        request, "breaching", lambda qs: qs.annotate(sla_due=sla_due_subquery()).order_by("sla_due", "pk")
    )


def by_priority_panel(request):
    if not request.user.has_perm("incidents.view_incident"):
        return None
    counts = dict(
        Incident.objects.filter(state__in=OPEN_STATES)
        .order_by()
        .values("priority")
        .annotate(n=Count("pk"))
        .values_list("priority", "n")
    )
    base = reverse("incidents:incident_list")
    rows = [
        {
            "priority": value,
            "label": label,
            "count": counts.get(value, 0),
            "url": f"{base}?{urlencode({'queue': 'open', 'priority': value})}",
        }
        for value, label in Priority.choices
    ]
    total = sum(row["count"] for row in rows)
    for row in rows:
        row["share"] = round(100 * row["count"] / total) if total else 0
    return {"rows": rows, "total": total, "url": f"{base}?queue=open"}


def register():
    navigation.register(
        navigation.MenuItem(
            "Incidents", "incidents:incident_list", permission="incidents.view_incident", section="/incidents/"
        )
    )
    dashboard.register(
        dashboard.Panel("incidents_mine", "My work", "incidents/panels/my_work.html", my_work_panel, order=1)
    )
    dashboard.register(
        dashboard.Panel(
            "incidents_breaching", "Breaching soon", "incidents/panels/breaching.html", breaching_panel, order=2
        )
    )
    dashboard.register(
        dashboard.Panel(
            "incidents_by_priority",
            "Open incidents by priority",
            "incidents/panels/by_priority.html",
            by_priority_panel,
            order=3,
            width=12,
        )
    )
