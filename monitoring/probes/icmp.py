"""ICMP echo (ping) with icmplib. Unprivileged ICMP sockets first (Linux allows them to the
groups in ``net.ipv4.ping_group_range``); where the system forbids them, a raw socket when the
worker has the capability (root or CAP_NET_RAW); else the result is ``unknown`` with a message
telling the operator what to set."""

import icmplib

from monitoring import targets
from monitoring.choices import ResultStatus

FORBIDDEN = (
    "ICMP is not permitted for the worker's user. Allow unprivileged ping with "
    "sysctl -w net.ipv4.ping_group_range='0 2147483647' (persist it in /etc/sysctl.d/), "
    "or give the worker CAP_NET_RAW."
)
INTERVAL = 0.2  # seconds between echo requests


def explain(exc):
    """The result for an icmplib error: ``(status, latency_ms, message)``."""
    if isinstance(exc, icmplib.SocketPermissionError):
        return ResultStatus.UNKNOWN, None, FORBIDDEN
    if isinstance(exc, icmplib.NameLookupError):
        return ResultStatus.DOWN, None, f"Cannot resolve the host: {exc}"
    if isinstance(exc, icmplib.ICMPLibError):
        return ResultStatus.UNKNOWN, None, f"ICMP error: {exc}"
    raise exc


async def ping(address, *, count, timeout, allow_raw=True):
    """icmplib's host for ``count`` echo requests to ``address``: unprivileged socket, then (when
    ``allow_raw``) a raw one. Raises ``icmplib.SocketPermissionError`` when neither is allowed."""
    try:
        return await icmplib.async_ping(address, count=count, interval=INTERVAL, timeout=timeout, privileged=False)
    except icmplib.SocketPermissionError:
        if not allow_raw:
            raise
    return await icmplib.async_ping(address, count=count, interval=INTERVAL, timeout=timeout, privileged=True)


async def probe(spec, *, allow_raw=True):
    count = int((spec.params or {}).get("count", 3))
    address = (await targets.resolve(spec.target))[0]
    # Each reply may take what is left of the timeout once the requests have been sent.
    per_reply = max(0.2, float(spec.timeout) - INTERVAL * (count - 1) - 0.1)
    try:
        host = await ping(address, count=count, timeout=per_reply, allow_raw=allow_raw)
    except icmplib.ICMPLibError as exc:
        return explain(exc)
    name = spec.target if spec.target == address else f"{spec.target} ({address})"
    if not host.is_alive:
        return ResultStatus.DOWN, None, f"No reply from {name}: {host.packets_sent} echo requests lost."
    latency = round(host.avg_rtt, 3)
    summary = f"{host.packets_received}/{host.packets_sent} replies from {name}, avg {latency:.1f} ms"
    if host.packets_received < host.packets_sent:
        return ResultStatus.WARNING, latency, f"{summary} ({host.packet_loss:.0%} loss)."
    return ResultStatus.UP, latency, f"{summary}."
