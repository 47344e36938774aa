"""The monitoring overview (``/monitoring/``): the checks counted by state, the problems first
(worst state first, then the latest change first) and the firing alerts. The counts and the
problems come again from ``/monitoring/overview/live/`` every ``REFRESH_SECONDS`` (htmx), so the
page follows the poller without a reload."""

from django.db.models import Case, Count, IntegerField, Value, When
from django.views import generic

from itom.generic import PortalPermissionMixin
from monitoring.choices import PROBLEM_STATES, STATE_ORDER, AlertStatus, CheckState
from monitoring.models import Alert, Check

PROBLEMS_SHOWN = 50
ALERTS_SHOWN = 10


def state_rank():
    """``choices.STATE_ORDER`` as a sortable expression: worst first."""
    return Case(
        *(When(state=state, then=Value(rank)) for state, rank in STATE_ORDER.items()),
        default=Value(len(STATE_ORDER)),
        output_field=IntegerField(),
    )


def state_counts():
    """``[(state, label, count)]`` in ``STATE_ORDER`` (every state, zero included), one query."""
    found = dict(Check.objects.filter(enabled=True).values_list("state").annotate(n=Count("id")).order_by())
    ordered = sorted(CheckState, key=lambda state: STATE_ORDER.get(state, len(STATE_ORDER)))
    return [(state.value, state.label, found.get(state.value, 0)) for state in ordered]


def problems(limit=PROBLEMS_SHOWN):
    """The enabled checks in a problem state, worst first, then the latest state change first."""
    return (
        Check.objects.filter(enabled=True, state__in=PROBLEM_STATES)
        .select_related("ci", "zone")
        .annotate(state_rank=state_rank())
        .order_by("state_rank", "-last_state_change_at", "name", "pk")[:limit]
    )


def live_context(limit=PROBLEMS_SHOWN):
    counts = state_counts()
    rows = list(problems(limit))
    problem_total = sum(count for state, _, count in counts if state in PROBLEM_STATES)
    return {
        "counts": counts,
        "problems": rows,
        "problem_total": problem_total,
        "total_checks": sum(count for _, _, count in counts),
        "disabled_checks": Check.objects.filter(enabled=False).count(),
    }


class OverviewView(PortalPermissionMixin, generic.TemplateView):
    model = Check
    template_name = "monitoring/overview.html"
    refresh_seconds = 10  # how often the page asks for the counts and problems again

    def get_context_data(self, **kwargs):
        kwargs.update(live_context(), refresh_seconds=self.refresh_seconds, title="Monitoring", subnav="overview")
        firing = Alert.objects.filter(status=AlertStatus.FIRING)
        kwargs["alerts"] = list(
            firing.select_related("ci", "incident", "monitor").order_by("-last_seen", "-pk")[:ALERTS_SHOWN]
        )
        kwargs["firing_total"] = firing.count()
        return super().get_context_data(**kwargs)


class OverviewLiveView(PortalPermissionMixin, generic.TemplateView):
    """``/monitoring/overview/live/``: the counts and the problems alone (what htmx swaps in)."""

    model = Check
    template_name = "monitoring/_overview_live.html"

    def get_context_data(self, **kwargs):
        kwargs.update(live_context(), refresh_seconds=OverviewView.refresh_seconds)
        return super().get_context_data(**kwargs)
