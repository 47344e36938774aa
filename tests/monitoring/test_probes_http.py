"""HTTP(S) checks against a real local web server."""

from monitoring import probes
from monitoring.choices import ResultStatus
from monitoring.params import clean
from tests.monitoring.servers import HTTPServer, TCPServer, closed_port, make_certificates, run_check


def test_an_ok_page_is_up_with_status_and_latency():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/ok"))
        assert outcome.status == ResultStatus.UP
        assert outcome.message.startswith(f"HTTP 200 from {server.url('/ok')}, ")
        assert outcome.latency_ms is not None


def test_an_unexpected_status_is_down_and_says_what_was_expected():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/status/503"))
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message.startswith(f"HTTP 503 from {server.url('/status/503')} (expected 200-399), ")


def test_expected_statuses_may_be_codes_and_ranges():
    with HTTPServer() as server:
        assert run_check("http", server.url("/status/503"), expected_status=[503]).status == ResultStatus.UP
        assert run_check("http", server.url("/status/404"), expected_status="200,400-404").status == ResultStatus.UP
        assert run_check("http", server.url("/ok"), expected_status=["201-299"]).status == ResultStatus.DOWN


def test_a_keyword_in_the_body_is_up_and_a_missing_one_down():
    with HTTPServer() as server:
        assert run_check("http", server.url("/ok"), keyword="operational").status == ResultStatus.UP
        outcome = run_check("http", server.url("/ok"), keyword="maintenance")
        assert outcome.status == ResultStatus.DOWN
        assert "the keyword 'maintenance' is not in the response" in outcome.message


def test_a_keyword_that_must_be_absent_is_down_when_present():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/ok"), keyword="operational", keyword_absent=True)
        assert outcome.status == ResultStatus.DOWN
        assert "the keyword 'operational' is in the response" in outcome.message
        assert run_check("http", server.url("/ok"), keyword="Error", keyword_absent=True).status == ResultStatus.UP


def test_a_gzip_body_is_searched_decoded():
    with HTTPServer() as server:
        assert run_check("http", server.url("/gzip"), keyword="operational").status == ResultStatus.UP


def test_a_slow_answer_over_the_latency_threshold_is_a_warning():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/slow?seconds=0.3"), latency_warning_ms=100)
        assert outcome.status == ResultStatus.WARNING
        assert "over the warning threshold of 100 ms" in outcome.message


def test_an_answer_slower_than_the_timeout_is_down():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/slow?seconds=3"), timeout=0.5)
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message == "Timed out after 0.5s."


def test_redirects_are_followed_up_to_the_limit():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/redirect/3"), keyword="operational")
        assert outcome.status == ResultStatus.UP
        assert outcome.message.startswith(f"HTTP 200 from {server.url('/ok')} after 3 redirects")
        outcome = run_check("http", server.url("/redirect/3"), max_redirects=2)
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message.startswith(f"More than 2 redirects from {server.url('/redirect/3')}")


def test_with_no_redirects_allowed_the_redirect_itself_is_judged():
    with HTTPServer() as server:
        assert run_check("http", server.url("/redirect/1"), max_redirects=0).status == ResultStatus.UP
        outcome = run_check("http", server.url("/redirect/1"), max_redirects=0, expected_status=[200])
        assert outcome.status == ResultStatus.DOWN
        assert "HTTP 302" in outcome.message


def test_a_redirect_loop_is_down():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/loop"))
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message.startswith("Redirect loop:")


def test_a_redirect_to_the_metadata_address_is_refused():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/metadata"))
        assert outcome.status == ResultStatus.UNKNOWN
        assert outcome.message.startswith("Refused: redirected to http://169.254.169.254/latest/meta-data/")
        assert "cloud metadata address" in outcome.message


def test_the_host_header_and_headers_are_sent():
    with HTTPServer() as server:
        url = server.url("/echo", host="localhost")
        outcome = run_check("http", url, headers={"X-Probe": "yes"}, keyword=f"host=localhost:{server.port}")
        assert outcome.status == ResultStatus.UP
        assert run_check("http", url, headers={"X-Probe": "yes"}, keyword="header:x-probe=yes").status == "up"


def test_a_post_sends_its_body_and_a_303_turns_into_a_get():
    with HTTPServer() as server:
        outcome = run_check("http", server.url("/echo"), method="POST", body="hello", keyword="body=hello")
        assert outcome.status == ResultStatus.UP
        outcome = run_check("http", server.url("/see-other"), method="POST", body="hello", keyword="method=GET")
        assert outcome.status == ResultStatus.UP


def test_a_head_request_reads_no_body():
    with HTTPServer() as server:
        assert run_check("http", server.url("/ok"), method="HEAD").status == ResultStatus.UP


def test_a_closed_port_is_down():
    port = closed_port()
    outcome = run_check("http", f"http://127.0.0.1:{port}/")
    assert outcome.status == ResultStatus.DOWN
    assert outcome.message.startswith(f"Cannot connect to http://127.0.0.1:{port}/")


def test_a_malformed_status_line_is_down_not_a_crash():
    with TCPServer(banner=b"HTZP/9.9 what is this\r\n\r\n") as server:
        outcome = run_check("http", f"http://127.0.0.1:{server.port}/")
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message.startswith(f"Invalid or broken answer from http://127.0.0.1:{server.port}/")


def test_random_bytes_instead_of_http_are_down_not_a_crash():
    with TCPServer(garbage=50000) as server:
        outcome = run_check("http", f"http://127.0.0.1:{server.port}/", keyword="x")
        assert outcome.status == ResultStatus.DOWN
        assert len(outcome.message) <= 500


def test_a_huge_body_is_read_only_up_to_the_cap():
    with HTTPServer() as server:
        assert run_check("http", server.url("/huge")).status == ResultStatus.UP
        outcome = run_check("http", server.url("/huge"), keyword="needle")
        assert outcome.status == ResultStatus.DOWN
        assert "is not in the response (first 1024 kB)" in outcome.message


def test_https_is_verified_against_the_name(tmp_path):
    cert = make_certificates(tmp_path)
    with HTTPServer(cert) as server:
        # The test CA is not one the system trusts: verification fails, and says so.
        outcome = run_check("http", server.url("/ok", host="localhost"))
        assert outcome.status == ResultStatus.DOWN
        assert "CERTIFICATE_VERIFY_FAILED" in outcome.message
        # Without verification the page itself is checked.
        outcome = run_check("http", server.url("/ok", host="localhost"), verify_tls=False, keyword="operational")
        assert outcome.status == ResultStatus.UP


def test_a_batch_shares_one_client_and_keeps_the_order():
    with HTTPServer() as server:
        specs = []
        for path in ("/ok", "/status/500", "/redirect/2", "/status/404"):
            target, port, params = clean("http", server.url(path), None, {})
            specs.append(probes.CheckSpec(len(specs), "http", target, port, params, 5))
        outcomes = probes.run_sync(probes.run_many(specs, concurrency=2))
    assert [outcome.status for outcome in outcomes] == ["up", "down", "up", "down"]
    assert "HTTP 404" in outcomes[3].message
