"""ICMP checks: a real ping of 127.0.0.1, and the clear answer when the system forbids ICMP."""

import os

import icmplib
import pytest

from monitoring import probes
from monitoring.choices import ResultStatus
from monitoring.probes import icmp
from tests.monitoring.servers import run_check


def unprivileged_icmp_allowed():
    """Whether Linux lets this process open an unprivileged ICMP socket (its group is in
    net.ipv4.ping_group_range)."""
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as range_file:
            low, high = (int(value) for value in range_file.read().split())
    except (OSError, ValueError):
        return False
    return any(low <= gid <= high for gid in {os.getgid(), *os.getgroups()})


def test_a_ping_to_the_loopback_is_up():
    outcome = run_check("icmp", "127.0.0.1", count=2)
    if outcome.status == ResultStatus.UNKNOWN and outcome.message == icmp.FORBIDDEN:
        pytest.skip("this machine allows neither unprivileged ICMP nor raw sockets to the test user")
    assert outcome.status == ResultStatus.UP
    assert outcome.message.startswith("2/2 replies from 127.0.0.1, avg ")
    assert outcome.latency_ms is not None


def test_a_permission_error_is_unknown_and_tells_the_operator_what_to_set():
    status, latency, message = icmp.explain(icmplib.SocketPermissionError(False))
    assert status == ResultStatus.UNKNOWN
    assert latency is None
    assert "net.ipv4.ping_group_range" in message
    assert "CAP_NET_RAW" in message


def test_unprivileged_only_ping_follows_what_the_system_allows():
    # Without the raw-socket fallback the probe meets the system's own rule: where unprivileged
    # ICMP is forbidden, icmplib raises SocketPermissionError and the check says what to set.
    spec = probes.CheckSpec(None, "icmp", "127.0.0.1", None, {"count": 1}, 3)
    status, _latency, message = probes.run_sync(icmp.probe(spec, allow_raw=False))
    if unprivileged_icmp_allowed():
        assert status == ResultStatus.UP
    else:
        assert (status, message) == (ResultStatus.UNKNOWN, icmp.FORBIDDEN)


def test_other_icmp_errors_are_explained_too():
    assert icmp.explain(icmplib.NameLookupError("nowhere"))[0] == ResultStatus.DOWN
    assert icmp.explain(icmplib.SocketAddressError("::99"))[0] == ResultStatus.UNKNOWN


def test_a_metadata_address_is_refused_before_any_packet():
    outcome = probes.run_once(probes.CheckSpec(None, "icmp", "169.254.169.254", None, {"count": 1}, 2))
    assert outcome.status == ResultStatus.UNKNOWN
    assert "cloud metadata address" in outcome.message


def test_a_name_that_does_not_resolve_is_down():
    outcome = run_check("icmp", "no-such-host.invalid")
    assert outcome.status == ResultStatus.DOWN
    assert "does not resolve" in outcome.message
