"""Heartbeat pings (``/ping/<uuid>``, ``/ping/<uuid>/start``, ``/ping/<uuid>/fail``): GET or
POST, no session, no token, no CSRF — the uuid is the credential. Answers ``200 OK``, or ``404``
in plain text for an unknown or malformed uuid (nothing written). A POST body (its first 10 kB)
becomes the result's message."""

from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseNotFound
from django.views.decorators.csrf import csrf_exempt

from monitoring.models import Check
from monitoring.services import heartbeats

NOT_FOUND = "No heartbeat check with this uuid."


def _body(request):
    if request.method != "POST":
        return ""
    try:
        data = request.read(heartbeats.BODY_MAX)
    except OSError:
        data = b""
    return data.decode("utf-8", errors="replace")


def _ping(request, key, signal):
    if request.method not in ("GET", "POST", "HEAD"):
        return HttpResponseNotAllowed(["GET", "POST", "HEAD"])
    try:
        heartbeats.ping(key, signal, body=_body(request))
    except Check.DoesNotExist:
        return HttpResponseNotFound(NOT_FOUND, content_type="text/plain; charset=utf-8")
    return HttpResponse("OK", content_type="text/plain; charset=utf-8")


@csrf_exempt
def ping(request, key):
    return _ping(request, key, "success")


@csrf_exempt
def start(request, key):
    return _ping(request, key, "start")


@csrf_exempt
def fail(request, key):
    return _ping(request, key, "fail")
