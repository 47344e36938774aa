import pytest
from django.test import RequestFactory

from itom.net import client_ip


def request(remote="10.0.0.1", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_proxies_the_connections_address_is_used_and_the_header_ignored(settings):
    settings.PROXY_COUNT = 0
    assert client_ip(request("198.51.100.7", forwarded="203.0.113.9")) == "198.51.100.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "203.0.113.9", "203.0.113.9"),  # nginx alone: the header holds the client
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # a client's own header is not believed
        (2, "1.2.3.4, 203.0.113.9, 10.0.0.2", "203.0.113.9"),  # load balancer + nginx
        (2, "203.0.113.9", "10.0.0.1"),  # too short to hold what two proxies add: not trusted
        (1, "not-an-address", "10.0.0.1"),
        (1, "", "10.0.0.1"),
    ],
)
def test_behind_proxies_the_address_the_outermost_trusted_proxy_saw_is_used(settings, proxies, forwarded, expected):
    settings.PROXY_COUNT = proxies
    assert client_ip(request(forwarded=forwarded)) == expected
