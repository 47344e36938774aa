"""TLS certificate checks against a real local TLS server with certificates made at test time."""

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509

from monitoring.choices import ResultStatus
from monitoring.probes import tls
from tests.monitoring.servers import HTTPServer, TCPServer, closed_port, make_certificates, run_check


@pytest.fixture
def serve(tmp_path):
    """``serve(**certificate options)`` → ``(port, certificates)`` of a TLS server, stopped after the test."""
    servers = []

    def start(**options):
        directory = tmp_path / f"c{len(servers)}"
        directory.mkdir()
        cert = make_certificates(directory, **options)
        servers.append(HTTPServer(cert))
        return servers[-1].port, cert

    yield start
    for server in servers:
        server.close()


def test_a_certificate_far_from_expiry_is_up(serve):
    port, cert = serve(days=90)
    outcome = run_check("tls", "localhost", port, ca_file=cert.ca_file)
    assert outcome.status == ResultStatus.UP
    assert outcome.message.startswith(f"The certificate of localhost:{port} expires in 89 days")


def test_a_certificate_within_the_warning_days_is_a_warning(serve):
    port, cert = serve(days=15)
    outcome = run_check("tls", "localhost", port, ca_file=cert.ca_file, warning_days=21, critical_days=7)
    assert outcome.status == ResultStatus.WARNING
    assert "expires in 14 days" in outcome.message
    assert "under the warning level of 21 days" in outcome.message


def test_a_certificate_within_the_critical_days_is_down(serve):
    port, cert = serve(days=5)
    outcome = run_check("tls", "localhost", port, ca_file=cert.ca_file)
    assert outcome.status == ResultStatus.DOWN
    assert "under the critical level of 7 days" in outcome.message


def test_an_expired_certificate_is_down_whether_or_not_the_chain_is_verified(serve):
    port, cert = serve(expired=True)
    verified = run_check("tls", "localhost", port, ca_file=cert.ca_file)
    assert verified.status == ResultStatus.DOWN
    assert "certificate has expired" in verified.message
    unverified = run_check("tls", "localhost", port, verify_chain=False)
    assert unverified.status == ResultStatus.DOWN
    assert f"expired on {cert.not_after:%Y-%m-%d}" in unverified.message


def test_a_chain_the_worker_does_not_trust_is_down_unless_verification_is_off(serve):
    port, _cert = serve(days=90)
    outcome = run_check("tls", "localhost", port)
    assert outcome.status == ResultStatus.DOWN
    assert "is not valid: unable to get local issuer certificate" in outcome.message
    assert run_check("tls", "localhost", port, verify_chain=False).status == ResultStatus.UP


def test_a_certificate_for_another_name_is_down_with_or_without_chain_verification(serve):
    port, cert = serve(names=("other.example",), ips=())
    verified = run_check("tls", "127.0.0.1", port, ca_file=cert.ca_file, server_name="localhost")
    assert verified.status == ResultStatus.DOWN
    assert "Hostname mismatch" in verified.message
    unverified = run_check("tls", "127.0.0.1", port, verify_chain=False, server_name="localhost")
    assert unverified.status == ResultStatus.DOWN
    assert unverified.message.endswith("is not valid for localhost (it is for other.example).")


def test_an_ip_target_is_checked_against_the_ip_in_the_certificate(serve):
    port, cert = serve(names=("localhost",), ips=("127.0.0.1",))
    assert run_check("tls", "127.0.0.1", port, ca_file=cert.ca_file).status == ResultStatus.UP
    assert run_check("tls", "127.0.0.1", port, verify_chain=False).status == ResultStatus.UP


def test_a_missing_ca_file_is_unknown():
    outcome = run_check("tls", "localhost", 443, ca_file="/nonexistent/ca.pem")
    assert outcome.status == ResultStatus.UNKNOWN
    assert outcome.message.startswith("Cannot load the CA file '/nonexistent/ca.pem'")


def test_a_closed_port_is_down():
    port = closed_port()
    outcome = run_check("tls", "127.0.0.1", port)
    assert outcome.status == ResultStatus.DOWN
    assert outcome.message == f"TLS handshake with 127.0.0.1:{port} failed: connection refused."


def test_random_bytes_instead_of_a_handshake_are_down_not_a_crash():
    with TCPServer(garbage=4096) as server:
        outcome = run_check("tls", "127.0.0.1", server.port)
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message.startswith(f"TLS handshake with 127.0.0.1:{server.port} failed")


def test_a_server_that_never_answers_the_handshake_times_out():
    with TCPServer(hold=True) as server:
        outcome = run_check("tls", "127.0.0.1", server.port, timeout=0.5)
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message == "Timed out after 0.5s."


def load(certificates):
    return x509.load_pem_x509_certificate(Path(certificates.cert_file).read_bytes())


def test_wildcards_match_one_left_most_label(tmp_path):
    cert = load(make_certificates(tmp_path, names=("*.example.com",), ips=()))
    assert tls.matches(cert, "www.example.com")
    assert tls.matches(cert, "WWW.Example.com.")
    assert not tls.matches(cert, "example.com")
    assert not tls.matches(cert, "a.b.example.com")


def test_expiry_levels_are_judged_against_now(tmp_path):
    cert = load(make_certificates(tmp_path, days=30))
    now = dt.datetime.now(dt.UTC)
    assert tls.judge(cert, where="x", warning_days=21, critical_days=7, now=now)[0] == ResultStatus.UP
    later = now + dt.timedelta(days=20)
    assert tls.judge(cert, where="x", warning_days=21, critical_days=7, now=later)[0] == ResultStatus.WARNING
    assert tls.judge(cert, where="x", warning_days=21, critical_days=7, now=later + dt.timedelta(days=5))[0] == "down"
