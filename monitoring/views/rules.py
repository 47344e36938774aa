"""Metric rules: the list (filters, search, sort, pages, CSV), a rule's page (what it watches, its
latest samples, its alerts), new / edit / delete and History. Viewers read; agents write
(``monitoring.*_metricrule``). A rule is a plain audited row: the model's validation is the rule."""

from django.urls import reverse

from itom.generic import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectHistoryView
from monitoring.choices import RuleKind
from monitoring.filters import MetricRuleFilterSet
from monitoring.forms import MetricRuleForm
from monitoring.models import MetricRule, MetricSample
from monitoring.views.base import ANY_ENABLED_DISABLED, CIFromQueryMixin, MonitoringListView, MonitoringPage

SAMPLES_SHOWN = 20
ALERTS_SHOWN = 20


class ConditionColumn(Column):
    def value(self, obj):
        return condition_text(obj)


def condition_text(rule):
    """ "above 90 for 5 min" or "5 × MAD from the 60-min median (10 samples)"."""
    if rule.kind == RuleKind.BASELINE:
        return f"{rule.mad_factor:g} × MAD from the {rule.window_minutes}-min median (≥ {rule.min_samples} samples)"
    threshold = "?" if rule.threshold is None else f"{rule.threshold:g}"
    return f"{rule.get_operator_display().lower()} {threshold} for {rule.for_minutes} min"


class RuleListView(MonitoringListView):
    model = MetricRule
    filterset_class = MetricRuleFilterSet
    template_name = "monitoring/rule_list.html"
    subnav = "rules"
    add_label = "New metric rule"
    shown_filters = ("q", "kind", "severity", "enabled")
    tall_filters = ("severity",)
    boolean_choices = {"enabled": ANY_ENABLED_DISABLED}
    columns = [
        Column("name", link=True),
        Column("metric"),
        Column("ci.name", label="CI", sort="ci__name"),
        Column("kind"),
        ConditionColumn("condition", label="Condition", sortable=False),
        Column("severity"),
        Column("enabled"),
    ]

    def get_base_queryset(self):
        return MetricRule.objects.select_related("ci")

    def get_add_url(self):
        return reverse("monitoring:rule_add")


class RuleDetailView(MonitoringPage, ObjectDetailView):
    model = MetricRule
    template_name = "monitoring/rule_detail.html"
    subnav = "rules"

    def get_queryset(self):
        return MetricRule.objects.select_related("ci")

    def get_context_data(self, **kwargs):
        rule = self.object
        samples = MetricSample.objects.filter(name=rule.metric).select_related("ci")
        if rule.ci_id:
            samples = samples.filter(ci_id=rule.ci_id)
        kwargs.update(
            condition=condition_text(rule),
            samples=list(samples.order_by("-time")[:SAMPLES_SHOWN]),
            alerts=list(rule.alerts.select_related("ci", "incident").order_by("-last_seen")[:ALERTS_SHOWN]),
        )
        return super().get_context_data(**kwargs)


class RuleEditView(CIFromQueryMixin, MonitoringPage, ObjectEditView):
    model = MetricRule
    form_class = MetricRuleForm
    template_name = "monitoring/rule_form.html"
    subnav = "rules"

    def get_queryset(self):
        return MetricRule.objects.select_related("ci")

    def save_form(self, form):
        from monitoring.services import rules

        if self.object is None:
            return rules.create_rule(user=self.request.user, **form.service_fields())
        return rules.update_rule(self.object, user=self.request.user, **form.service_fields())


class RuleDeleteView(ObjectDeleteView):
    model = MetricRule

    def delete_object(self, obj):
        from monitoring.services import rules

        rules.delete_rule(obj, user=self.request.user)

    def get_success_url(self):
        return reverse("monitoring:rule_list")


class RuleHistoryView(MonitoringPage, ObjectHistoryView):
    model = MetricRule
    template_name = "monitoring/rule_history.html"
    subnav = "rules"
