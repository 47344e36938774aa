"""The Changes navigation entry, the home-page panels (awaiting my approval, upcoming changes,
change KPIs) and the incident page's "Request change" action."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from changes.choices import ChangeState
from changes.models import ChangeRequest
from itom import dashboard, navigation
from itom.roles import APPROVER, MANAGER, has_role

PANEL_ROWS = 8  # changes listed in a home-page panel
UPCOMING_DAYS = 14  # how far ahead "Upcoming changes" looks
KPI_DAYS = 90  # the period of the KPI panel
KPI_SLICES = 3  # the chart's bars: the period cut in this many slices of KPI_DAYS / KPI_SLICES days


def awaiting_approval_panel(request):
    """The stages the user may decide now (approvers and managers)."""
    from changes.services import approvals

    user = request.user
    if not user.has_perm("changes.view_changerequest") or not has_role(user, APPROVER, MANAGER):
        return None
    pending = approvals.pending_for(user)
    rows = list(pending[:PANEL_ROWS])
    count = len(rows) if len(rows) < PANEL_ROWS else pending.count()
    return {"stages": rows, "count": count, "url": f"{reverse('changes:change_list')}?queue=approvals"}


def upcoming_panel(request):
    """Scheduled changes starting in the next two weeks, and those being implemented (agents)."""
    user = request.user
    if not user.has_perm("changes.change_changerequest"):
        return None
    now = timezone.now()
    queryset = (
        ChangeRequest.objects.filter(state__in=(ChangeState.SCHEDULED, ChangeState.IMPLEMENT))
        .filter(planned_end__gt=now, planned_start__lt=now + dt.timedelta(days=UPCOMING_DAYS))
        .select_related("assignment_team", "assignee")
        .order_by("planned_start", "pk")
    )
    rows = list(queryset[:PANEL_ROWS])
    count = len(rows) if len(rows) < PANEL_ROWS else queryset.count()
    return {
        "changes": rows,
        "count": count,
        "days": UPCOMING_DAYS,
        "url": f"{reverse('changes:change_list')}?queue=scheduled",
        "calendar_url": reverse("changes:calendar"),
    }


def _percent(rate):
    return None if rate is None else round(rate * 100)


def kpi_panel(request):
    """Success rate, emergency share, changes that caused incidents and the approval lead time
    over the last 90 days, with a chart of the same per 30-day slice (managers)."""
    from changes.kpis import change_kpis

    if not (has_role(request.user, MANAGER)):
        return None
    now = timezone.now()
    start = now - dt.timedelta(days=KPI_DAYS)
    figures = change_kpis(start, now)
    step = dt.timedelta(days=KPI_DAYS / KPI_SLICES)
    slices = []
    for i in range(KPI_SLICES):
        begin = start + i * step
        part = change_kpis(begin, begin + step)
        slices.append(
            {
                "label": f"{timezone.localtime(begin):%d %b} – {timezone.localtime(begin + step):%d %b}",
                "success": _percent(part["success_rate"]),
                "emergency": _percent(part["emergency_share"]),
                "caused": _percent(part["caused_incidents_rate"]),
            }
        )
    chart = {
        "labels": [s["label"] for s in slices],
        "datasets": [
            {"label": "Success rate %", "data": [s["success"] for s in slices]},
            {"label": "Emergency share %", "data": [s["emergency"] for s in slices]},
            {"label": "Caused incidents %", "data": [s["caused"] for s in slices]},
        ],
    }
    return {
        "kpis": figures,
        "days": KPI_DAYS,
        "success_rate": _percent(figures["success_rate"]),
        "emergency_share": _percent(figures["emergency_share"]),
        "caused_rate": _percent(figures["caused_incidents_rate"]),
        "lead_time": figures["approval_lead_time_hours"],
        "chart": chart,
    }


def _request_change_url(incident):
    return f"{reverse('changes:change_add')}?incident={incident.pk}"


def _incident_is_open(incident):
    from incidents.choices import OPEN_STATES

    return incident.state in OPEN_STATES


def register():
    """Register the navigation entry, the home panels and the incident page's action."""
    from incidents import extensions

    navigation.register(
        navigation.MenuItem(
            "Changes", "changes:change_list", permission="changes.view_changerequest", section="/changes/"
        )
    )
    dashboard.register(
        dashboard.Panel(
            "changes_awaiting_approval",
            "Awaiting my approval",
            "changes/panels/awaiting_approval.html",
            awaiting_approval_panel,
            order=4,
        )
    )
    dashboard.register(
        dashboard.Panel("changes_upcoming", "Upcoming changes", "changes/panels/upcoming.html", upcoming_panel, order=5)
    )
    dashboard.register(
        dashboard.Panel("changes_kpis", "Change KPIs", "changes/panels/kpis.html", kpi_panel, order=6, width=12)
    )
    extensions.register(
        extensions.IncidentAction(
            key="request_change",
            label="Request change",
            url=_request_change_url,
            permission="changes.add_changerequest",
            visible=_incident_is_open,
            order=10,
        )
    )
