"""Every task has a route to a named queue, and every route names a task (both directions)."""

from itom.celery import app
from itom.celery_routes import QUEUES, TASK_ROUTES
from itom.tasks import PortalTask


def project_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_has_a_route():
    missing = sorted(set(project_tasks()) - set(TASK_ROUTES))
    assert not missing, f"tasks without a route in itom/celery_routes.py: {missing}"


def test_every_route_names_a_task():
    stale = sorted(set(TASK_ROUTES) - set(project_tasks()))
    assert not stale, f"routes for tasks that do not exist: {stale}"


def test_every_route_goes_to_a_declared_queue():
    assert {route["queue"] for route in TASK_ROUTES.values()} <= set(QUEUES)
    assert {"default", "notify", "poll.default"} <= set(QUEUES)


def test_every_task_acks_late_and_retries_a_bounded_number_of_times():
    for name, task in project_tasks().items():
        assert isinstance(task, PortalTask), name
        assert task.acks_late, name
        assert task.max_retries is not None and task.max_retries <= 10, name
