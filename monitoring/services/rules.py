"""Metric rules (threshold and baseline, see ``monitoring.services.metrics``): the one code path
for the pages, the API and the admin console. A rule disabled or deleted while it fires ends its
alerts (``alerts.rule_withdrawn``): nothing would evaluate them again."""

from django.db import transaction

from itom.locks import lock_row
from itom.validation import refuse_unknown_fields
from monitoring.models import MetricRule
from monitoring.services import alerts

FIELDS = (
    "name",
    "metric",
    "ci",
    "kind",
    "operator",
    "threshold",
    "for_minutes",
    "window_minutes",
    "mad_factor",
    "min_samples",
    "severity",
    "enabled",
)


def _save(rule, fields):
    for name, value in fields.items():
        setattr(rule, name, value)
    rule.full_clean()  # MetricRule.clean: metrics.validate_rule
    rule.save()
    return rule


@transaction.atomic
def create_rule(*, user, **fields):
    refuse_unknown_fields(fields, FIELDS, "a metric rule")
    return _save(MetricRule(), fields)


@transaction.atomic
def update_rule(rule, *, user, **fields):
    refuse_unknown_fields(fields, FIELDS, "a metric rule")
    rule = lock_row(MetricRule, rule, "rule", "Metric rule")
    was_enabled = rule.enabled
    rule = _save(rule, fields)
    if was_enabled and not rule.enabled:
        alerts.rule_withdrawn(rule, user=user)
    return rule


@transaction.atomic
def delete_rule(rule, *, user):
    rule = lock_row(MetricRule, rule, "rule", "Metric rule")
    alerts.rule_withdrawn(rule, user=user, deleted=True)
    rule.delete()
