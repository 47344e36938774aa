import logging

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from itom import dashboard
from itom.celery import app as celery_app

logger = logging.getLogger(__name__)


@login_required
def home(request):
    return render(request, "itom/home.html", {"panels": dashboard.panels_for(request)})


@require_safe
@never_cache
def livez(request):
    """Liveness: the process answers. No database or broker involved."""
    return JsonResponse({"status": "ok"})


@require_safe
@never_cache
def healthz(request):
    """Readiness: 200 when the database and the broker answer, else 503 naming what failed."""
    checks = {"database": _check_database, "broker": _check_broker}
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure of a dependency is reported, never raised
            logger.warning("healthz: %s unavailable: %s", name, exc)
            results[name] = f"unavailable: {type(exc).__name__}"
    healthy = all(value == "ok" for value in results.values())
    failed = [name for name, value in results.items() if value != "ok"]
    body = {"status": "ok" if healthy else "unavailable", "checks": results}
    if failed:
        body["failed"] = failed
    return JsonResponse(body, status=200 if healthy else 503)


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_broker():
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        _ = conn.default_channel  # opens a channel: the broker answers, not only the socket


def recent_activity_panel(request):
    from itom.models import ObjectChange

    if not request.user.has_perm("itom.view_objectchange"):
        return None
    changes = ObjectChange.objects.select_related("content_type", "user")[:15]
    return {"changes": changes}
