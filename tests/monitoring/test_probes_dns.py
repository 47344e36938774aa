"""DNS checks against a real local DNS server (UDP, dnspython) for the zone test.example."""

from monitoring import probes
from monitoring.choices import ResultStatus
from tests.monitoring.servers import DNSServer, run_check


def ask(server, name, record_type="A", *, expected=(), timeout=3.0):
    return run_check(
        "dns",
        name,
        server.port,
        timeout=timeout,
        record_type=record_type,
        nameserver="127.0.0.1",
        expected=list(expected),
    )


def test_an_answer_that_contains_the_expected_addresses_is_up():
    with DNSServer() as server:
        outcome = ask(server, "www.test.example", expected=["192.0.2.10", "192.0.2.11"])
        assert outcome.status == ResultStatus.UP
        assert outcome.message.startswith("A www.test.example → 192.0.2.10, 192.0.2.11")


def test_any_answer_is_up_when_nothing_is_expected():
    with DNSServer() as server:
        assert ask(server, "mail.test.example").status == ResultStatus.UP


def test_an_answer_without_an_expected_value_is_down_and_names_it():
    with DNSServer() as server:
        outcome = ask(server, "www.test.example", expected=["192.0.2.10", "192.0.2.99"])
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message == (
            "A www.test.example: expected '192.0.2.99' not in the answer [192.0.2.10, 192.0.2.11]."
        )


def test_a_name_that_does_not_exist_is_down_with_nxdomain():
    with DNSServer() as server:
        outcome = ask(server, "nope.test.example")
        assert outcome.status == ResultStatus.DOWN
        assert (
            outcome.message == f"nope.test.example does not exist (NXDOMAIN from nameserver 127.0.0.1:{server.port})."
        )


def test_a_name_without_records_of_the_type_is_down():
    with DNSServer() as server:
        outcome = ask(server, "www.test.example", "AAAA")
        assert outcome.status == ResultStatus.DOWN
        assert outcome.message == f"No AAAA record for www.test.example at nameserver 127.0.0.1:{server.port}."


def test_txt_records_are_matched_unquoted_with_their_strings_joined():
    with DNSServer() as server:
        assert ask(server, "www.test.example", "TXT", expected=["v=spf1 -all"]).status == ResultStatus.UP
        assert ask(server, "www.test.example", "TXT", expected=["hello world"]).status == ResultStatus.UP
        assert ask(server, "www.test.example", "TXT", expected=["v=spf2"]).status == ResultStatus.DOWN


def test_mx_records_match_by_exchange_or_by_preference_and_exchange():
    with DNSServer() as server:
        assert ask(server, "test.example", "MX", expected=["mail.test.example"]).status == ResultStatus.UP
        assert ask(server, "test.example", "MX", expected=["10 mail.test.example."]).status == ResultStatus.UP
        assert ask(server, "test.example", "MX", expected=["20 mail.test.example"]).status == ResultStatus.DOWN


def test_srv_and_cname_answers():
    with DNSServer() as server:
        assert ask(server, "_sip._tcp.test.example", "SRV", expected=["sip.test.example"]).status == "up"
        assert ask(server, "alias.test.example", "CNAME", expected=["www.test.example"]).status == "up"
        # An A query for an alias follows the CNAME to the addresses.
        assert ask(server, "alias.test.example", expected=["192.0.2.11"]).status == ResultStatus.UP


def test_garbage_from_the_nameserver_is_down_not_a_crash():
    with DNSServer(garbage=700) as server:
        outcome = ask(server, "www.test.example", timeout=1.0)
        assert outcome.status == ResultStatus.DOWN
        assert len(outcome.message) <= 500


def test_a_nameserver_that_never_answers_times_out_as_down():
    with DNSServer(silent=True) as server:
        outcome = ask(server, "www.test.example", timeout=0.5)
        assert outcome.status == ResultStatus.DOWN


def test_a_metadata_nameserver_is_refused_at_connect_time():
    spec = probes.CheckSpec(None, "dns", "www.test.example", None, {"nameserver": "169.254.169.253"}, 2)
    outcome = probes.run_once(spec)
    assert outcome.status == ResultStatus.UNKNOWN
    assert "169.254.169.253 is a cloud metadata address" in outcome.message
