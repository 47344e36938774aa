"""Metric rules: the list (filters, search, sort, pages, CSV), a rule's page (what it watches, its
latest samples, its alerts), new / edit / delete and History. Viewers read; agents write
(``monitoring.*_metricrule``). A rule is a plain audited row: the model's validation is the rule."""

from django.urls import reverse

from itom.generic import Column, ObjectDeleteView, ObjectDetailView, ObjectEditView, ObjectHistoryView, ObjectListView
from monitoring.choices import RuleKind
from monitoring.filters import MetricRuleFilterSet
from monitoring.forms import MetricRuleForm
from monitoring.models import MetricRule, MetricSample
from monitoring.views.checks import ANY_ENABLED_DISABLED

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


class RuleTabsMixin:
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context.update(
            can_change=user.has_perm("monitoring.change_metricrule"),
            can_delete=user.has_perm("monitoring.delete_metricrule"),
            subnav="rules",
        )
        return context


class RuleListView(ObjectListView):
    model = MetricRule
    filterset_class = MetricRuleFilterSet
    template_name = "monitoring/rule_list.html"
    shown_filters = ("q", "kind", "severity", "enabled")
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

    def get_filterset(self):
        filterset = super().get_filterset()
        filterset.form.fields["severity"].widget.attrs["size"] = 3
        filterset.form.fields["enabled"].widget.choices = ANY_ENABLED_DISABLED
        return filterset

    def get_context_data(self, **kwargs):
        kwargs.update(title="Metric rules", subnav="rules", add_label="New metric rule")
        return super().get_context_data(**kwargs)


class RuleDetailView(RuleTabsMixin, ObjectDetailView):
    model = MetricRule
    template_name = "monitoring/rule_detail.html"

    def get_queryset(self):
        return MetricRule.objects.select_related("ci")

    def get_template_names(self):
        return [self.template_name]

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


class RuleEditView(ObjectEditView):
    model = MetricRule
    form_class = MetricRuleForm
    template_name = "monitoring/rule_form.html"

    def get_queryset(self):
        return MetricRule.objects.select_related("ci")

    def get_initial(self):
        initial = super().get_initial()
        ci = self.request.GET.get("ci", "")
        if self.object is None and ci.isdigit():
            initial["ci"] = int(ci)
        return initial

    def get_success_url(self):
        return self.object.get_absolute_url()

    def get_context_data(self, **kwargs):
        kwargs["subnav"] = "rules"
        return super().get_context_data(**kwargs)


class RuleDeleteView(ObjectDeleteView):
    model = MetricRule

    def get_success_url(self):
        return reverse("monitoring:rule_list")


class RuleHistoryView(RuleTabsMixin, ObjectHistoryView):
    model = MetricRule
    template_name = "monitoring/rule_history.html"
