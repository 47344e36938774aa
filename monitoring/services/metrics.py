"""Pushed metrics and the rules that watch them (the seed's "detect anomalies").

``ingest`` stores a batch of samples ``[{"ci", "name", "value", "unit", "time"}]`` — validated
whole first: a bad sample is a ``ValidationError`` naming it (``samples[3].value``) and nothing is
stored — in one ``bulk_create``, then queues ``tasks.evaluate_metric_rules`` once per series
(CI and metric) that an enabled rule watches, after the commit.

``evaluate(ci_id, metric)`` runs every enabled rule of the metric that covers the CI (the rule's
own CI, or every CI when it names none). The series' clock is its latest sample's time ("now"):

- **threshold** — the value ``above``/``below`` ``threshold`` for ``for_minutes``: every sample
  since the last one at or before ``now - for_minutes`` is beyond the threshold (so the breach has
  lasted at least that long) → the rule's alert fires with the rule's severity. The latest value
  back within the threshold resolves it; a breach not yet long enough changes nothing;
- **baseline** — the latest value against the samples before it in the last ``window_minutes``
  (at least ``min_samples`` of them): their median ``m`` and their median absolute deviation
  scaled to a standard deviation, ``MAD = 1.4826 × median(|x − m|)``. A value more than
  ``mad_factor`` MADs from ``m``, either way, fires a ``warning`` alert; one within resolves it.
  A MAD of 0 (a flat series) gives no verdict.

An alert's fingerprint is ``rule:<rule id>:ci:<ci id>``, its source ``metric``.
"""

import math
import re
import statistics
from datetime import UTC, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cmdb.models import CI
from monitoring.choices import AlertSource, Operator, RuleKind, Severity
from monitoring.models import MetricRule, MetricSample

MAX_SAMPLES = 10_000  # in one request
MAX_ERRORS = 50
MAD_SCALE = 1.4826  # MAD × this estimates the standard deviation of normal data
FUTURE_TOLERANCE = timedelta(minutes=5)
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.:/\-]{1,200}$")
NAME_MAX = MetricSample._meta.get_field("name").max_length
UNIT_MAX = MetricSample._meta.get_field("unit").max_length


def fingerprint(rule_id, ci_id):
    return f"rule:{rule_id}:ci:{ci_id}"


# --- ingest ------------------------------------------------------------------------------------


def _describe(value):
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _time(value, name, errors, now):
    """A sample's time: ISO 8601 with a zone, or seconds since the epoch; default now."""
    if value is None or value == "":
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            errors[name] = ["Expected an ISO 8601 time or seconds since the epoch."]
            return None
        moment = datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        try:
            moment = parse_datetime(value.strip())
        except ValueError:
            moment = None
        if moment is None:
            errors[name] = [f"“{value[:60]}” is not an ISO 8601 time such as 2025-03-31T14:00:00Z."]
            return None
        if timezone.is_naive(moment):
            errors[name] = [f"“{value[:60]}” has no time zone: end it with Z or an offset such as +02:00."]
            return None
    else:
        errors[name] = [f"Expected an ISO 8601 time or seconds since the epoch, got {_describe(value)}."]
        return None
    if moment > now + FUTURE_TOLERANCE:
        errors[name] = ["The time is in the future."]
        return None
    return moment


def _ci_refs(raw):
    """``{ref: CI}`` for the ``ci`` values of the samples (ids, names, FQDNs), in two queries."""
    ids = {int(ref) for ref in raw if isinstance(ref, int) and not isinstance(ref, bool)}
    ids |= {int(ref) for ref in raw if isinstance(ref, str) and ref.strip().isdigit()}
    texts = {ref.strip().lower() for ref in raw if isinstance(ref, str) and ref.strip() and not ref.strip().isdigit()}
    found = {}
    if ids:
        for ci in CI.objects.filter(pk__in=ids).only("id", "name"):
            found[ci.pk] = found[str(ci.pk)] = ci
    if texts:
        from monitoring.services.ingest import resolve_cis

        matches = resolve_cis(texts)
        for ref in raw:
            if isinstance(ref, str) and ref.strip().lower() in matches:
                found[ref] = matches[ref.strip().lower()]
    return found


def clean_samples(samples, now=None):
    """The samples as ``MetricSample`` rows (unsaved), or a ``ValidationError`` naming every bad
    field (``samples[3].value`` …)."""
    now = now or timezone.now()
    if not isinstance(samples, list):
        raise ValidationError({"samples": [f"Expected a list of samples, got {_describe(samples)}."]})
    if not samples:
        raise ValidationError({"samples": ["Give at least one sample."]})
    if len(samples) > MAX_SAMPLES:
        raise ValidationError({"samples": [f"At most {MAX_SAMPLES} samples per request; got {len(samples)}."]})
    refs = [s.get("ci") for s in samples if isinstance(s, dict) and isinstance(s.get("ci"), (int, str))]
    cis = _ci_refs(refs)
    errors, rows = {}, []
    for index, sample in enumerate(samples):
        if len(errors) >= MAX_ERRORS:
            break
        at = f"samples[{index}]"
        if not isinstance(sample, dict):
            errors[at] = [f"Expected an object, got {_describe(sample)}."]
            continue
        unknown = sorted(set(sample) - {"ci", "name", "value", "unit", "time"})
        if unknown:
            errors[f"{at}.{unknown[0]}"] = ["Unknown field: a sample has ci, name, value, unit and time."]
        ref = sample.get("ci")
        ci = cis.get(ref) if isinstance(ref, (int, str)) and not isinstance(ref, bool) else None
        if ref is None or ref == "":
            errors[f"{at}.ci"] = ["This field is required: the CI's id or name."]
        elif ci is None:
            errors[f"{at}.ci"] = [f"No CI “{str(ref)[:100]}”: give its id, name or FQDN."]
        name = sample.get("name")
        if not isinstance(name, str) or not name.strip():
            errors[f"{at}.name"] = ["This field is required: the metric's name, e.g. cpu.percent."]
        elif not NAME_PATTERN.match(name.strip()):
            errors[f"{at}.name"] = [
                f"“{name[:60]}”: letters, digits and _ . : / - only, at most {NAME_MAX} characters."
            ]
        value = sample.get("value")
        if value is None:
            errors[f"{at}.value"] = ["This field is required: a number."]
        elif isinstance(value, bool) or not isinstance(value, (int, float)):
            errors[f"{at}.value"] = [f"Expected a number, got {_describe(value)}."]
        elif not math.isfinite(value):
            errors[f"{at}.value"] = ["Expected a finite number."]
        unit = sample.get("unit", "")
        if unit is None:
            unit = ""
        if not isinstance(unit, str) or len(unit) > UNIT_MAX:
            errors[f"{at}.unit"] = [f"Expected a string of at most {UNIT_MAX} characters."]
        moment = _time(sample.get("time"), f"{at}.time", errors, now)
        if errors:
            continue
        rows.append(MetricSample(ci=ci, name=name.strip(), value=float(value), unit=unit.strip(), time=moment))
    if errors:
        raise ValidationError(errors)
    return rows


def watched_series(series):
    """The ``(ci_id, metric)`` pairs of ``series`` that an enabled rule watches (one query)."""
    metrics = {metric for _, metric in series}
    rules = MetricRule.objects.filter(enabled=True, metric__in=metrics).values_list("metric", "ci_id")
    watched_everywhere = {metric for metric, ci_id in rules if ci_id is None}
    watched_on = {(ci_id, metric) for metric, ci_id in rules if ci_id is not None}
    return [pair for pair in series if pair[1] in watched_everywhere or pair in watched_on]


def ingest(samples, *, integration=None, user=None, now=None):
    """Validate and store the samples (see ``clean_samples``) and queue the evaluation of the
    watched series; returns how many were stored. ``integration`` or ``user``: who pushed them."""
    return store(clean_samples(samples, now=now))


def store(rows):
    """Store samples ``clean_samples`` answered, in one transaction, and queue the evaluation of
    the series rules watch (after the commit); returns how many were stored."""
    from monitoring import tasks

    with transaction.atomic():
        MetricSample.objects.bulk_create(rows, batch_size=1000)
        series = list(dict.fromkeys((row.ci_id, row.name) for row in rows))
        for ci_id, metric in watched_series(series):
            # A broker that is down is logged, never raised into the committed request.
            transaction.on_commit(
                lambda ci_id=ci_id, metric=metric: tasks.evaluate_metric_rules.delay(ci_id, metric), robust=True
            )
    return len(rows)


# --- rules -------------------------------------------------------------------------------------


def validate_rule(rule):
    """A rule's cross-field rules: a threshold rule needs its threshold; a baseline rule's window
    must hold its ``min_samples`` at most one a minute… (a ``ValidationError`` naming the field)."""
    errors = {}
    if rule.kind == RuleKind.THRESHOLD and rule.threshold is None:
        errors["threshold"] = "A threshold rule needs its threshold."
    if rule.threshold is not None and not math.isfinite(rule.threshold):
        errors["threshold"] = "A finite number."
    if rule.metric and not NAME_PATTERN.match(rule.metric):
        errors["metric"] = "Letters, digits and _ . : / - only."
    if rule.kind == RuleKind.BASELINE and (rule.window_minutes or 0) < 1:
        errors["window_minutes"] = "A baseline needs a window of at least one minute."
    if rule.for_minutes is not None and rule.for_minutes > 7 * 24 * 60:
        errors["for_minutes"] = "At most a week (10080 minutes)."
    if rule.window_minutes is not None and rule.window_minutes > 7 * 24 * 60:
        errors["window_minutes"] = "At most a week (10080 minutes)."
    if errors:
        raise ValidationError(errors)


def _beyond(rule, value):
    return value > rule.threshold if rule.operator == Operator.ABOVE else value < rule.threshold


def _fmt(value):
    return f"{value:g}"


def threshold_verdict(rule, samples):
    """``(firing, summary)`` of a threshold rule over ``samples`` (``(time, value)``, oldest
    first, ending with the latest): True — the breach has lasted ``for_minutes``; False — the
    latest value is back within; None — no verdict (a breach not yet long enough, no data)."""
    if not samples:
        return None, ""
    latest_at, latest = samples[-1]
    if not _beyond(rule, latest):
        return False, ""
    start = latest_at - timedelta(minutes=rule.for_minutes)
    anchor = max((i for i, (at, _) in enumerate(samples) if at <= start), default=None)
    if anchor is None:
        return None, ""
    if all(_beyond(rule, value) for _, value in samples[anchor:]):
        word = "above" if rule.operator == Operator.ABOVE else "below"
        summary = (
            f"{rule.metric} = {_fmt(latest)}: {word} {_fmt(rule.threshold)} for {rule.for_minutes} "
            f"minute{'s' if rule.for_minutes != 1 else ''} or more."
        )
        return True, summary
    return None, ""


def baseline_verdict(rule, latest, earlier):
    """``(firing, summary)`` of a baseline rule: the ``latest`` value against the ``earlier``
    values of the window. None: no verdict (too few samples, or a MAD of 0)."""
    if len(earlier) < rule.min_samples:
        return None, ""
    median = statistics.median(earlier)
    mad = MAD_SCALE * statistics.median(abs(value - median) for value in earlier)
    if mad == 0:
        return None, ""
    deviations = abs(latest - median) / mad
    if deviations > rule.mad_factor:
        summary = (
            f"{rule.metric} = {_fmt(latest)}: {deviations:.1f} MADs from the median {_fmt(median)} of the "
            f"last {rule.window_minutes} minutes (MAD {mad:.4g}, limit {_fmt(rule.mad_factor)})."
        )
        return True, summary
    return False, ""


def _series(ci_id, metric):
    return MetricSample.objects.filter(ci_id=ci_id, name=metric)


def evaluate(ci_id, metric):
    """Run the rules watching ``metric`` on CI ``ci_id`` (see the module docstring); returns
    ``{rule_id: "firing" | "resolved" | "no verdict"}``."""
    from monitoring.services import alerts

    rules = list(MetricRule.objects.filter(enabled=True, metric=metric).filter(Q(ci_id=ci_id) | Q(ci__isnull=True)))
    latest = _series(ci_id, metric).order_by("-time", "-id").values_list("time", "value").first()
    if not rules or latest is None:
        return {}
    ci = CI.objects.filter(pk=ci_id).first()
    if ci is None:
        return {}
    latest_at, _ = latest
    outcome = {}
    for rule in rules:
        if rule.kind == RuleKind.THRESHOLD:
            if rule.threshold is None:
                continue
            since = _series(ci_id, metric).filter(time__lte=latest_at - timedelta(minutes=rule.for_minutes))
            anchor = since.order_by("-time", "-id").values_list("time", flat=True).first()
            window = _series(ci_id, metric).filter(time__lte=latest_at)
            if anchor is not None:
                window = window.filter(time__gte=anchor)
            else:
                window = window.order_by("-time", "-id")[:1]
            samples = sorted(window.values_list("time", "value", "id"), key=lambda s: (s[0], s[2]))
            firing, summary = threshold_verdict(rule, [(at, value) for at, value, _ in samples])
            severity = rule.severity
        else:
            earlier = list(
                _series(ci_id, metric)
                .filter(time__gte=latest_at - timedelta(minutes=rule.window_minutes), time__lt=latest_at)
                .values_list("value", flat=True)
            )
            firing, summary = baseline_verdict(rule, latest[1], earlier)
            severity = Severity.WARNING
        key = fingerprint(rule.pk, ci_id)
        if firing:
            with transaction.atomic():
                alerts.fire(
                    key,
                    source=AlertSource.METRIC,
                    name=rule.name,
                    summary=summary,
                    severity=severity,
                    labels={"metric": metric, "rule": str(rule.pk), "kind": rule.kind},
                    ci=ci,
                    rule=rule,
                )
            outcome[rule.pk] = "firing"
        elif firing is False:
            alerts.resolve(key, note=f"{metric} is back within the rule “{rule.name}”.")
            outcome[rule.pk] = "resolved"
        else:
            outcome[rule.pk] = "no verdict"
    return outcome
