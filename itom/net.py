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


# Cloud metadata services (AWS, GCP, Azure, OpenStack: 169.254.169.254 and its link-local range;
# AWS's IPv6 endpoint). Outgoing requests the portal makes for its users (webhooks, monitoring
# checks) refuse them unless an operator allows it (DESIGN.md §7).
METADATA_NETWORKS = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::254/128"))


def metadata_address(address):
    """The address (an ``ip_address``) if ``address`` is a cloud metadata address — also in its
    IPv4-mapped IPv6 form (``::ffff:169.254.169.254``) — else None. ``ValueError`` when it is not
    an IP address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return ip if any(ip in network for network in METADATA_NETWORKS) else None
