"""Queues and the route of every Celery task.

Every task the project defines must be listed here, and every name listed here must be a
task (tests/itom/test_task_routes.py checks both directions). Poller zones are queues named
``poll.<zone>``; a worker started with ``-Q poll.<zone>`` polls that zone only.
"""

QUEUES = ("default", "notify", "poll.default")

TASK_ROUTES = {
    "itom.tasks.prune_audit_log": {"queue": "default"},
    "itom.tasks.ping": {"queue": "default"},
    "itom.tasks.deliver_email": {"queue": "notify"},
    "itom.tasks.deliver_webhook": {"queue": "notify"},
    "itom.tasks.requeue_stalled_webhooks": {"queue": "notify"},
    "itom.tasks.prune_notifications": {"queue": "default"},
    "accounts.tasks.import_teams": {"queue": "default"},
    "slas.tasks.scan_sla_clocks": {"queue": "default"},
    "incidents.tasks.auto_close_resolved": {"queue": "default"},
    "incidents.tasks.record_sla_events": {"queue": "default"},
    "vendors.tasks.daily_contract_check": {"queue": "default"},
    "monitoring.tasks.dispatch_checks": {"queue": "default"},
    # Batches are sent to their zone's queue (poll.<zone>) explicitly; this is the default zone's.
    "monitoring.tasks.run_check_batch": {"queue": "poll.default"},
    "monitoring.tasks.release_maintenance": {"queue": "default"},
    "monitoring.tasks.rollup_results": {"queue": "default"},
    "monitoring.tasks.prune_results": {"queue": "default"},
    "monitoring.tasks.evaluate_metric_rules": {"queue": "default"},
}
