"""TCP checks against real local listeners."""

import pytest

from monitoring import probes
from monitoring.choices import ResultStatus
from tests.monitoring.servers import TCPServer, closed_port, run_check


def test_a_listening_port_is_up():
    with TCPServer() as server:
        outcome = run_check("tcp", "127.0.0.1", server.port)
        assert outcome.status == ResultStatus.UP
        assert outcome.latency_ms is not None
        assert f"127.0.0.1:{server.port}" in outcome.message


def test_a_host_name_is_resolved_and_connected():
    with TCPServer() as server:
        assert run_check("tcp", "localhost", server.port).status == ResultStatus.UP


def test_a_closed_port_is_down_with_the_refusal():
    port = closed_port()
    outcome = run_check("tcp", "127.0.0.1", port)
    assert outcome.status == ResultStatus.DOWN
    assert outcome.message == f"Cannot connect to 127.0.0.1:{port}: connection refused."


def test_a_listener_that_stops_is_down():
    with TCPServer() as server:
        assert run_check("tcp", "127.0.0.1", server.port).status == ResultStatus.UP
        server.close()
        assert run_check("tcp", "127.0.0.1", server.port).status == ResultStatus.DOWN


def test_the_expected_banner_is_up():
    with TCPServer(banner=b"SSH-2.0-OpenSSH_9.6\r\n") as server:
        outcome = run_check("tcp", "127.0.0.1", server.port, expect="SSH-2.0")
        assert outcome.status == ResultStatus.UP
        assert "answered with 'SSH-2.0'" in outcome.message


def test_a_different_banner_is_down_and_says_what_came():
    with TCPServer(banner=b"220 smtp ready\r\n") as server:
        outcome = run_check("tcp", "127.0.0.1", server.port, expect="SSH-2.0")
        assert outcome.status == ResultStatus.DOWN
        assert "did not answer with 'SSH-2.0'" in outcome.message
        assert "220 smtp ready" in outcome.message


def test_what_is_sent_gets_the_expected_answer():
    with TCPServer(echo="upper") as server:
        outcome = run_check("tcp", "127.0.0.1", server.port, send="ping\n", expect="PING")
        assert outcome.status == ResultStatus.UP


def test_random_bytes_from_the_remote_are_a_down_result_not_a_crash():
    with TCPServer(garbage=20000) as server:
        outcome = run_check("tcp", "127.0.0.1", server.port, expect="HELLO")
        assert outcome.status == ResultStatus.DOWN
        assert "did not answer with 'HELLO'" in outcome.message
        assert len(outcome.message) <= 500
        assert outcome.message.isprintable()


def test_a_silent_server_times_out_as_down():
    with TCPServer(hold=True) as server:
        outcome = run_check("tcp", "127.0.0.1", server.port, timeout=0.5, expect="READY")
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message == "Timed out after 0.5s."


def test_a_name_that_does_not_resolve_is_down():
    outcome = run_check("tcp", "no-such-host.invalid", 80)
    assert outcome.status == ResultStatus.DOWN
    assert "no-such-host.invalid does not resolve" in outcome.message


@pytest.mark.parametrize("address", ["169.254.169.254", "::ffff:169.254.169.254", "fd00:ec2::254"])
def test_a_metadata_address_is_refused_at_connect_time(address):
    # A spec that skipped validation (say, a name that now resolves there) is still refused.
    outcome = probes.run_once(probes.CheckSpec(None, "tcp", address, 80, {}, 2))
    assert outcome.status == ResultStatus.UNKNOWN
    assert outcome.message.startswith("Refused: ")
    assert "cloud metadata address" in outcome.message
