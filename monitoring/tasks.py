"""The monitoring app's Celery tasks (DESIGN.md §1). Thin: each calls one service.

``dispatch_checks`` (beat, every ``MONITORING_DISPATCH_SECONDS``) claims the due checks and sends
their batches to ``poll.<zone>``; ``run_check_batch`` runs one batch. A batch is acknowledged late,
so a worker killed mid-batch has it redelivered; the checks' leases also let the next dispatch
claim them again once ``timeout + MONITORING_RECLAIM_SECONDS`` has passed, and a batch whose claim
was taken over stores nothing (``engine.run_batch``).
"""

from celery import shared_task

from itom.tasks import PortalTask


@shared_task(base=PortalTask)
def dispatch_checks():
    """Claim the checks due within the next dispatch period and queue their batches; returns how
    many checks were claimed."""
    from monitoring.services import engine

    return engine.dispatch()


@shared_task(base=PortalTask)
def run_check_batch(check_ids, leases=None):
    """Run the claimed checks ``check_ids`` (``leases``: the ``claimed_until`` each was claimed with,
    ISO 8601) and record their results; returns the batch's figures."""
    from monitoring.services import engine

    return engine.run_batch(check_ids, leases)


@shared_task(base=PortalTask)
def release_maintenance():
    """Open the incidents of the alerts whose maintenance window or change has ended."""
    from monitoring.services import maintenance

    return maintenance.release_ended()


@shared_task(base=PortalTask)
def rollup_results():
    """Roll the raw results of the complete hours up per check and hour (idempotent)."""
    from monitoring.services import retention

    return retention.rollup()


@shared_task(base=PortalTask)
def prune_results():
    """Delete raw results, rollups and metric samples past their retention."""
    from monitoring.services import retention

    return retention.prune()


@shared_task(base=PortalTask)
def evaluate_metric_rules(ci_id, metric):
    """Evaluate the rules watching ``metric`` of CI ``ci_id`` after new samples arrived."""
    from monitoring.services import metrics

    return metrics.evaluate(ci_id, metric)
