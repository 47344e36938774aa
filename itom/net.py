import ipaddress

from django.conf import settings


def client_ip(request):
    """The client's address, for lockouts and logs.

    With ``PROXY_COUNT = 0`` it is the connection's own (``REMOTE_ADDR``) and ``X-Forwarded-For``
    is ignored. Behind N trusted reverse proxies (``PROXY_COUNT = N``) it is the N-th address from
    the right of ``X-Forwarded-For`` — the one the outermost trusted proxy saw — so a client cannot
    choose its address by sending the header itself. A header too short or malformed to hold that
    address is not trusted: the connection's address is used.
    """
    remote = request.META.get("REMOTE_ADDR")
    count = settings.PROXY_COUNT
    if not count:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if len(hops) < count:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-count]))
    except ValueError:
        return remote
