"""Read-side figures of vendor management: a vendor's scorecard over a period, the production CIs
no support contract covers, the contracts that cover a CI."""

import datetime as dt
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.contenttypes.models import ContentType
from django.db.models import Avg, Case, Count, IntegerField, Q, Value, When
from django.utils import timezone

from cmdb.choices import Environment, Status
from cmdb.models import CI
from incidents.models import Incident
from slas.choices import ClockState, Metric
from slas.models import SLAClock
from vendors.choices import PAYMENTS_PER_YEAR, SUPPORT_TYPES, BillingPeriod
from vendors.models import Contract, VendorEscalation

CENT = Decimal("0.01")
STOPPED = (ClockState.MET, ClockState.BREACHED)


def _day_bounds(start, end):
    """The aware instants from the start of ``start`` to the end of ``end`` (local days)."""
    zone = timezone.get_current_timezone()
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    finish = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    return begin, finish


def _pct(part, whole):
    return round(100 * part / whole, 1) if whole else None


def _hours(seconds):
    return round(seconds / 3600, 2) if seconds is not None else None


def term_years(contract):
    """How many years a contract runs, its end day included (Jan 1 2024 – Dec 31 2026: 3)."""
    span = relativedelta(contract.end_date + dt.timedelta(days=1), contract.start_date)
    return Decimal(span.years) + Decimal(span.months) / 12 + Decimal(span.days) / Decimal("365.25")


def yearly_cost(contract):
    """What a contract costs a year: its cost times the payments a year of its billing period;
    a one-off cost is spread over its term."""
    cost = Decimal(contract.cost_amount or 0)
    if contract.billing_period == BillingPeriod.ONE_OFF:
        years = term_years(contract)
        return cost / years if years > 0 else cost
    return cost * PAYMENTS_PER_YEAR.get(contract.billing_period, 1)


def _clock_figures(escalation_ids):
    """``{metric: (stopped, met, mean elapsed seconds)}`` over the stopped clocks of escalations."""
    rows = (
        SLAClock.objects.filter(
            content_type=ContentType.objects.get_for_model(VendorEscalation),
            object_id__in=escalation_ids,
            state__in=STOPPED,
        )
        .values("metric")
        .annotate(stopped=Count("id"), met=Count("id", filter=Q(state=ClockState.MET)), mean=Avg("elapsed_seconds"))
    )
    return {row["metric"]: (row["stopped"], row["met"], row["mean"]) for row in rows}


def _incidents_on_covered_cis(vendor, begin, finish):
    covered = Contract.covered_cis.through.objects.filter(contract__vendor=vendor).values("ci_id")
    through_cis = Incident.affected_cis.through.objects.filter(ci_id__in=covered).values("incident_id")
    through_services = Incident.affected_services.through.objects.filter(ci_id__in=covered).values("incident_id")
    return (
        Incident.objects.filter(created_at__gte=begin, created_at__lt=finish)
        .filter(Q(pk__in=through_cis) | Q(pk__in=through_services))
        .count()
    )


def _yearly_spend(vendor, start, end):
    spend = defaultdict(Decimal)
    for contract in Contract.objects.filter(vendor=vendor, start_date__lte=end, end_date__gte=start):
        spend[contract.currency] += yearly_cost(contract)
    return {currency: spend[currency].quantize(CENT, rounding=ROUND_HALF_UP) for currency in sorted(spend)}


def scorecard(vendor, start, end):
    """How ``vendor`` did from ``start`` to ``end`` (dates, both included):

    - ``escalations``: escalations to it in the period;
    - ``response_met_pct`` / ``resolution_met_pct``: of the stopped vendor clocks of those
      escalations, the percentage that met their target (None when none stopped);
    - ``mean_response_hours`` / ``mean_resolution_hours``: the business hours those clocks counted,
      on average (None when none stopped);
    - ``incidents_on_covered_cis``: incidents opened in the period that affect a CI (or a business
      service) one of its contracts covers;
    - ``yearly_spend``: ``{currency: Decimal}``, the yearly cost of its contracts overlapping the
      period;
    - ``contracts``: its contracts in force on the period's last day (today, when that is later).
    """
    begin, finish = _day_bounds(start, end)
    escalations = VendorEscalation.objects.filter(vendor=vendor, escalated_at__gte=begin, escalated_at__lt=finish)
    clocks = _clock_figures(escalations.values("pk"))
    response = clocks.get(Metric.RESPONSE, (0, 0, None))
    resolution = clocks.get(Metric.RESOLUTION, (0, 0, None))
    day = min(end, timezone.localdate())
    return {
        "escalations": escalations.count(),
        "response_met_pct": _pct(response[1], response[0]),
        "resolution_met_pct": _pct(resolution[1], resolution[0]),
        "mean_response_hours": _hours(response[2]),
        "mean_resolution_hours": _hours(resolution[2]),
        "incidents_on_covered_cis": _incidents_on_covered_cis(vendor, begin, finish),
        "yearly_spend": _yearly_spend(vendor, start, end),
        "contracts": vendor.contracts.filter(start_date__lte=day, end_date__gte=day).count(),
    }


def supporting_contracts(today=None):
    """The contracts in force on ``today`` (default: today) of a support type."""
    today = today or timezone.localdate()
    return Contract.objects.filter(type__in=SUPPORT_TYPES, start_date__lte=today, end_date__gte=today)


def unsupported_production_cis(today=None):
    """Active production CIs that no support contract in force covers, by name."""
    covered = Contract.covered_cis.through.objects.filter(contract__in=supporting_contracts(today)).values("ci_id")
    return (
        CI.objects.filter(status=Status.ACTIVE, environment=Environment.PRODUCTION)
        .exclude(pk__in=covered)
        .order_by("name", "pk")
    )


def covering_contracts(ci, today=None):
    """The contracts covering ``ci``: those in force first (soonest end first), then the others
    (by end date)."""
    today = today or timezone.localdate()
    in_force = Case(
        When(start_date__lte=today, end_date__gte=today, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    through = Contract.covered_cis.through.objects.filter(ci_id=ci.pk).values("contract_id")
    return (
        Contract.objects.filter(pk__in=through)
        .select_related("vendor")
        .annotate(in_force=in_force)
        .order_by("in_force", "end_date", "number")
    )
