"""Heartbeat pings (DESIGN.md §4): ``/ping/<uuid>``, ``/ping/<uuid>/start``, ``/ping/<uuid>/fail``.
The uuid is the credential: no session, no token, no CSRF. Any key is routed (a trailing slash
allowed) so a malformed one gets the same plain-text 404 as an unknown one."""

from django.urls import re_path

from monitoring.views import ping

app_name = "ping"

urlpatterns = [
    re_path(r"^(?P<key>[^/]+)/?$", ping.ping, name="success"),
    re_path(r"^(?P<key>[^/]+)/start/?$", ping.start, name="start"),
    re_path(r"^(?P<key>[^/]+)/fail/?$", ping.fail, name="fail"),
]
