"""Where checks may connect: cloud metadata addresses (169.254.0.0/16, fd00:ec2::254, also
IPv4-mapped) are refused unless ``MONITORING_ALLOW_METADATA_ADDRESSES`` is on (DESIGN.md §7).

A literal address is refused when the check is saved (``monitoring.params``); a host name is
resolved and every address checked again at connect time (``resolve``), and the probe then
connects to the address that was checked — so a DNS answer cannot steer a check to the metadata
service between the check and the connection.
"""

import asyncio
import ipaddress
import socket

from django.conf import settings

from itom import net


class TargetRefused(Exception):
    """The target may not be reached from the poller (a cloud metadata address)."""


class Unresolvable(OSError):
    """The host name does not resolve (now)."""


def refusal(address) -> str | None:
    """Why ``address`` (an IP, as text) may not be reached by a check, or None. A value that is
    not an IP address is not refused here (``resolve`` checks what a name resolves to)."""
    if settings.MONITORING_ALLOW_METADATA_ADDRESSES:
        return None
    try:
        ip = net.metadata_address(address)
    except ValueError:
        return None
    if ip is None:
        return None
    return (
        f"{ip} is a cloud metadata address, which checks may not reach "
        "(an operator may allow it with MONITORING_ALLOW_METADATA_ADDRESSES)."
    )


def literal_ip(host):
    """``host`` as an ``ip_address`` when it is one (brackets and an IPv6 zone allowed), else None."""
    text = str(host or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def check(addresses):
    """Raise ``TargetRefused`` when any of ``addresses`` is refused."""
    for address in addresses:
        reason = refusal(address)
        if reason:
            raise TargetRefused(reason)


async def resolve(host, port=None, *, family=socket.AF_UNSPEC) -> list[str]:
    """The addresses ``host`` resolves to now (a literal IP: itself), each checked. Raises
    ``TargetRefused`` when one of them is refused, ``Unresolvable`` when the name does not resolve."""
    literal = literal_ip(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        name = str(host or "").strip().rstrip(".")
        if not name:
            raise Unresolvable("No host name to resolve.")
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(name, port, family=family, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise Unresolvable(f"{name} does not resolve ({exc}).") from None
        addresses = list(dict.fromkeys(info[4][0].split("%", 1)[0] for info in infos))
        if not addresses:
            raise Unresolvable(f"{name} does not resolve (no addresses).")
    check(addresses)
    return addresses
