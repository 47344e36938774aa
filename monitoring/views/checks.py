"""The checks: the list (filters, search, sort, pages, CSV), a check's page (its state, attempts,
flapping, last results, latency chart, uptime over 24 h / 7 d / 30 d, its alerts and their
incidents; a heartbeat's ping URLs as curl lines), new (``?ci=<id>`` picks the CI) / edit with
"Test now", delete, and History.

Every write goes through ``monitoring.services.checks``; "Test now" runs the form's check once
(``test_check``) and writes nothing. Viewers read; agents write (``monitoring.*_check``)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from itom.forms import bootstrap_form
from itom.generic import (
    Column,
    ObjectDeleteView,
    ObjectDetailView,
    ObjectEditView,
    ObjectHistoryView,
    PortalPermissionMixin,
)
from monitoring.choices import PROBLEM_STATES, CheckKind, CheckState, StateType
from monitoring.filters import CheckFilterSet
from monitoring.forms import CheckForm, check_errors_to_form
from monitoring.models import Check
from monitoring.views.base import ANY_ENABLED_DISABLED, CIFromQueryMixin, MonitoringListView, MonitoringPage

RESULTS_SHOWN = 20
ALERTS_SHOWN = 20
CHART_HOURS = 24
CHART_POINTS = 720  # the latency chart's most points (more results are averaged per bucket)


class TargetColumn(Column):
    def value(self, obj):
        if obj.kind == CheckKind.HEARTBEAT:
            return "(pushed)"
        return f"{obj.target}:{obj.port}" if obj.port else obj.target


class CheckListView(MonitoringListView):
    model = Check
    filterset_class = CheckFilterSet
    template_name = "monitoring/check_list.html"
    partial_template_name = "monitoring/_check_table.html"
    subnav = "checks"
    add_label = "New check"
    shown_filters = ("q", "state", "kind", "severity", "zone", "enabled")
    tall_filters = ("state", "kind", "severity")
    boolean_choices = {"enabled": ANY_ENABLED_DISABLED}
    columns = [
        Column("name", link=True),
        Column("state"),
        Column("ci.name", label="CI", sort="ci__name"),
        Column("kind"),
        TargetColumn("target", label="Target"),
        Column("last_latency_ms", label="Latency (ms)"),
        Column("last_checked_at", label="Last run"),
        Column("severity"),
        Column("zone.name", label="Zone", sort="zone__name"),
        Column("enabled"),
    ]

    def get_base_queryset(self):
        return Check.objects.select_related("ci", "zone")

    def get_filterset(self):
        filterset = super().get_filterset()
        filterset.form.fields["zone"].widget.attrs["placeholder"] = "default"
        return filterset


def ping_urls(check, request):
    """A heartbeat's ping URLs on the portal's public address (``PORTAL_URL``, else this request's)."""
    base = (settings.PORTAL_URL or request.build_absolute_uri("/")).rstrip("/")
    url = f"{base}/ping/{check.uuid}"
    return {"success": url, "start": f"{url}/start", "fail": f"{url}/fail"}


def curl_lines(urls):
    """The copy-paste lines of a heartbeat's setup card."""
    curl = "curl -fsS -m 10 --retry 5 -o /dev/null"
    return {
        "success": f"{curl} {urls['success']}",
        "start": f"{curl} {urls['start']}",
        "fail": f"{curl} {urls['fail']}",
        "cron": f"{curl} {urls['start']} && /path/to/job.sh && {curl} {urls['success']} || {curl} {urls['fail']}",
    }


def latency_chart(check, hours=CHART_HOURS, max_points=CHART_POINTS):
    """The check's latency over the last hours as Chart.js points ``[{"x": epoch ms, "y": ms}]``:
    at most ``max_points``, a bucket's average where there are more results than that."""
    from monitoring import stats

    series = [(at.timestamp() * 1000, ms) for at, ms in stats.latency_series(check, hours=hours) if ms is not None]
    if len(series) > max_points:
        start, span = series[0][0], (series[-1][0] - series[0][0]) or 1
        buckets = {}
        for x, ms in series:
            bucket = min(int((x - start) / span * max_points), max_points - 1)
            buckets.setdefault(bucket, []).append((x, ms))
        series = [
            (sum(x for x, _ in values) / len(values), sum(ms for _, ms in values) / len(values))
            for _, values in sorted(buckets.items())
        ]
    return {"hours": hours, "points": [{"x": int(x), "y": round(ms, 1)} for x, ms in series]}


class CheckDetailView(MonitoringPage, ObjectDetailView):
    model = Check
    template_name = "monitoring/check_detail.html"
    subnav = "checks"

    def get_queryset(self):
        return Check.objects.select_related("ci", "ci__ci_class", "zone")

    def get_context_data(self, **kwargs):
        from monitoring import stats

        check = self.object
        alerts = list(
            check.alerts.select_related("incident", "suppressed_by_change", "suppressed_by_window").order_by(
                "-last_seen", "-pk"
            )[:ALERTS_SHOWN]
        )
        kwargs.update(
            results=list(check.results.all()[:RESULTS_SHOWN]),
            chart=latency_chart(check),
            uptimes=stats.uptimes(check),
            alerts=alerts,
            is_problem=check.state in PROBLEM_STATES,
            is_soft=check.state_type == StateType.SOFT and check.state in PROBLEM_STATES,
            is_heartbeat=check.kind == CheckKind.HEARTBEAT,
            is_pending=check.state == CheckState.PENDING,
            target_text=TargetColumn("target").value(check),
            params=sorted(check.params.items()),
        )
        if check.kind == CheckKind.HEARTBEAT:
            urls = ping_urls(check, self.request)
            kwargs.update(ping_urls=urls, curl=curl_lines(urls))
        return super().get_context_data(**kwargs)


class CheckEditView(CIFromQueryMixin, MonitoringPage, ObjectEditView):
    """New check (``?ci=<id>`` picks the CI) and edit, with "Test now" (``CheckTestView``)."""

    model = Check
    form_class = CheckForm
    template_name = "monitoring/check_form.html"
    subnav = "checks"

    def get_queryset(self):
        return Check.objects.select_related("ci", "zone")

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs.pop("instance", None)
        kwargs["check"] = self.object
        return kwargs

    def save_form(self, form):
        from monitoring.services import checks as services

        user = self.request.user
        if self.object is None:
            return services.create_check(user=user, **form.service_fields())
        changed = form.changed_fields()
        if not changed:
            return self.object
        return services.update_check(Check.objects.get(pk=self.object.pk), user=user, **changed)

    def refused(self, form, exc):
        check_errors_to_form(form, exc)

    def get_context_data(self, **kwargs):
        kwargs["test_url"] = reverse("monitoring:check_test")
        return super().get_context_data(**kwargs)


def _outcome_context(outcome):
    from monitoring.choices import ResultStatus

    status = getattr(outcome, "status", "unknown")
    status = getattr(status, "value", status)
    return {
        "outcome": outcome,
        "status": status,
        "status_label": ResultStatus(status).label if status in ResultStatus.values else status,
        "latency_ms": getattr(outcome, "latency_ms", None),
        "message": getattr(outcome, "message", ""),
        "tested_at": timezone.now(),
    }


class CheckTestView(PortalPermissionMixin, View):
    """POST ``/monitoring/checks/test/``: the check form's check, run once (nothing written). Answers
    the result fragment; a field the service or the form refuses is said on the field (out of band)
    — with 200, so that htmx swaps it in."""

    model = Check
    permission_action = "add"
    template_name = "monitoring/_check_test_result.html"

    def get_permission_required(self):
        return ["monitoring.add_check"]

    def post(self, request):
        form = bootstrap_form(CheckForm(request.POST, testing=True))
        context = {"form": form, "fields": form.visible_fields()}
        if form.is_valid():
            from monitoring.services import checks as services

            fields = form.service_fields()
            try:
                outcome = services.test_check(**fields)
            except ValidationError as exc:
                check_errors_to_form(form, exc)
            else:
                context.update(_outcome_context(outcome))
        context["refused"] = bool(form.errors)
        return render(request, self.template_name, context)


class CheckRunNowView(PortalPermissionMixin, View):
    """POST ``/monitoring/checks/<id>/test/``: a saved check run once now, the result shown on its page
    (not recorded: the poller's runs are)."""

    model = Check
    permission_action = "change"
    template_name = "monitoring/_check_test_result.html"

    def post(self, request, pk):
        from monitoring.services import checks as services

        check = get_object_or_404(Check, pk=pk)
        context = {"saved": True}
        try:
            outcome = services.run_now(check)
        except ValidationError as exc:
            context.update(refused=True, reasons=exc.messages)
        else:
            context.update(_outcome_context(outcome))
        return render(request, self.template_name, context)


class CheckDeleteView(MonitoringPage, ObjectDeleteView):
    model = Check
    subnav = "checks"

    def delete_object(self, obj):
        from monitoring.services import checks as services

        services.delete_check(obj, user=self.request.user)


class CheckHistoryView(MonitoringPage, ObjectHistoryView):
    model = Check
    template_name = "monitoring/check_history.html"
    subnav = "checks"
