"""A check's kind, target, port and settings are validated per kind; cloud metadata addresses
are refused (DESIGN.md §7)."""

import pytest
from django.core.exceptions import ValidationError

from itom import webhooks
from monitoring import params, probes, targets


def errors_of(kind, target, port=None, options=None):
    with pytest.raises(ValidationError) as caught:
        params.clean(kind, target, port, options or {})
    return caught.value.message_dict


# --- kind, target, port ---------------------------------------------------------------------------


def test_an_unknown_kind_is_refused_naming_the_kinds():
    assert errors_of("smtp", "mail.example.com", 25) == {
        "kind": ["Unknown check kind 'smtp'. Use one of: icmp, tcp, http, tls, dns, heartbeat."]
    }


@pytest.mark.parametrize("kind", ["icmp", "tcp", "tls"])
def test_a_missing_target_is_refused(kind):
    assert errors_of(kind, "", 443)["target"] == ["A host name or IP address is required."]


@pytest.mark.parametrize("target", ["exa mple.com", "-bad-.example", "a" * 64 + ".example", "999.1.1.1", "http://x"])
def test_a_malformed_host_is_refused(target):
    assert "target" in errors_of("tcp", target, 80)


@pytest.mark.parametrize(
    "url, reason",
    [
        ("", "A URL is required (http:// or https://)."),
        ("ftp://files.example.com/", "Use an http:// or https:// URL."),
        ("example.com/health", "Use an http:// or https:// URL."),
        ("http:///path", "The URL needs a host name."),
        ("http://bad host/", "'bad%20host' is not a valid host name or IP address."),
    ],
)
def test_a_malformed_url_is_refused(url, reason):
    assert errors_of("http", url)["target"] == [reason]


@pytest.mark.parametrize("port", [0, 70000, -1, "http"])
def test_a_port_out_of_range_is_refused(port):
    assert errors_of("tcp", "db.example.com", port) == {"port": ["The port must be between 1 and 65535."]}


def test_a_tcp_check_needs_a_port():
    assert errors_of("tcp", "db.example.com", None) == {"port": ["A port between 1 and 65535 is required."]}


def test_kinds_without_a_port_refuse_one():
    assert errors_of("icmp", "db.example.com", 22) == {"port": ["An ICMP check has no port."]}
    assert errors_of("http", "https://example.com/", 443) == {"port": ["An HTTP check has no port: put it in the URL."]}
    assert errors_of("dns", "example.com", 5353) == {"port": ["A port is for the nameserver: set the nameserver too."]}


def test_every_problem_is_reported_at_once():
    assert set(errors_of("tcp", "", 0, {"colour": "blue"})) == {"target", "port", "params"}


# --- per kind settings ----------------------------------------------------------------------------


def test_defaults_are_written_into_the_settings():
    assert params.clean("http", "https://Example.com/health", None, {}) == (
        "https://example.com/health",
        None,
        {
            "method": "GET",
            "expected_status": ["200-399"],
            "keyword": "",
            "keyword_absent": False,
            "headers": {},
            "body": "",
            "max_redirects": 5,
            "verify_tls": True,
        },
    )
    assert params.clean("tls", "Example.com", None, {}) == (
        "example.com",
        443,
        {"warning_days": 21, "critical_days": 7, "verify_chain": True, "ca_file": "", "server_name": "example.com"},
    )
    assert params.clean("icmp", "10.1.2.3", None, None) == ("10.1.2.3", None, {"count": 3})
    assert params.clean("heartbeat", "", None, {}) == ("", None, {"period": 86400, "grace": 3600})
    assert params.clean("dns", "example.com", None, {}) == (
        "example.com",
        None,
        {"record_type": "A", "expected": [], "nameserver": ""},
    )


def test_unknown_settings_are_refused_naming_them_and_the_known_ones():
    assert errors_of("tcp", "db.example.com", 5432, {"expect": "x", "retries": 3, "colour": 1}) == {
        "params": ["Unknown setting(s) for a tcp check: colour, retries (known: send, expect)."]
    }


def test_settings_must_be_an_object():
    assert errors_of("tcp", "db.example.com", 5432, ["send"]) == {
        "params": ["Expected an object of settings for the check's kind."]
    }


@pytest.mark.parametrize(
    "kind, target, port, options, message",
    [
        ("icmp", "h.example", None, {"count": 9}, "count: must be between 1 and 5."),
        ("http", "http://h.example/", None, {"method": "DELETE"}, "method: one of GET, HEAD, POST, PUT, OPTIONS."),
        ("http", "http://h.example/", None, {"expected_status": ["2xx"]}, "expected_status: '2xx' is not a status"),
        ("http", "http://h.example/", None, {"expected_status": [700]}, "expected_status: 700: status codes are"),
        ("http", "http://h.example/", None, {"expected_status": ["299-200"]}, "expected_status: '299-200': the range"),
        ("http", "http://h.example/", None, {"max_redirects": 11}, "max_redirects: must be between 0 and 10."),
        ("http", "http://h.example/", None, {"headers": {"X Bad": "1"}}, "headers: 'X Bad' is not a valid header"),
        ("http", "http://h.example/", None, {"headers": {"X-A": "1\r\nX-B: 2"}}, "headers: the value of X-A must be"),
        ("http", "http://h.example/", None, {"verify_tls": "maybe"}, "verify_tls: expected true or false."),
        ("http", "http://h.example/", None, {"keyword_absent": True}, "keyword_absent: needs a keyword."),
        ("http", "http://h.example/", None, {"latency_warning_ms": 0}, "latency_warning_ms: must be between 1"),
        ("tls", "h.example", None, {"critical_days": 30}, "critical_days: must be below warning_days."),
        ("tls", "h.example", None, {"ca_file": "ca.pem"}, "ca_file: an absolute path on the worker"),
        ("dns", "h.example", None, {"record_type": "ANY"}, "record_type: one of A, AAAA, CNAME"),
        ("dns", "h.example", None, {"nameserver": "ns1.example"}, "nameserver: the nameserver's IP address"),
        ("dns", "h.example", None, {"expected": [1, 2]}, "expected: a list of values"),
        ("heartbeat", "", None, {"period": 5}, "period: must be between 10 and"),
        ("heartbeat", "", None, {"grace": -1}, "grace: must be between 0 and"),
    ],
)
def test_a_bad_setting_is_refused_with_a_message_naming_its_key(kind, target, port, options, message):
    errors = errors_of(kind, target, port, options)
    assert list(errors) == ["params"]
    assert errors["params"][0].startswith(message)


def test_values_from_a_form_are_converted():
    _, _, cleaned = params.clean(
        "http",
        "http://h.example/",
        None,
        {"max_redirects": "2", "verify_tls": "false", "expected_status": "200, 301-302", "method": "head"},
    )
    assert (cleaned["max_redirects"], cleaned["verify_tls"], cleaned["method"]) == (2, False, "HEAD")
    assert cleaned["expected_status"] == [200, "301-302"]
    _, port, _ = params.clean("tcp", "h.example", "5432", {})
    assert port == 5432


def test_a_dns_ptr_check_of_an_address_queries_its_reverse_name():
    assert params.clean("dns", "192.0.2.7", None, {"record_type": "ptr"})[0] == "7.2.0.192.in-addr.arpa"
    assert "target" in errors_of("dns", "192.0.2.7", None, {"record_type": "A"})


def test_a_heartbeat_has_no_target():
    assert errors_of("heartbeat", "example.com") == {
        "target": ["A heartbeat has no target: it is pushed to its ping URLs."]
    }


def test_international_names_are_stored_in_ascii():
    assert params.clean("icmp", "bücher.example", None, {})[0] == "xn--bcher-kva.example"


# --- metadata addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, target, port, options, field",
    [
        ("icmp", "169.254.169.254", None, {}, "target"),
        ("tcp", "169.254.170.2", 80, {}, "target"),
        ("tcp", "::ffff:169.254.169.254", 80, {}, "target"),
        ("tcp", "[fd00:ec2::254]", 80, {}, "target"),
        ("http", "http://169.254.169.254/latest/meta-data/", None, {}, "target"),
        ("http", "http://[::ffff:a9fe:a9fe]/", None, {}, "target"),
        ("tls", "169.254.169.254", None, {}, "target"),
        ("tls", "example.com", None, {"server_name": "169.254.169.254"}, "params"),
        ("dns", "example.com", None, {"nameserver": "169.254.169.253"}, "params"),
    ],
)
def test_a_metadata_address_is_refused_naming_the_field(kind, target, port, options, field):
    errors = errors_of(kind, target, port, options)
    assert list(errors) == [field]
    assert "is a cloud metadata address, which checks may not reach" in errors[field][0]
    assert "MONITORING_ALLOW_METADATA_ADDRESSES" in errors[field][0]


def test_an_operator_may_allow_metadata_addresses(settings):
    settings.MONITORING_ALLOW_METADATA_ADDRESSES = True
    assert params.clean("icmp", "169.254.169.254", None, {})[0] == "169.254.169.254"


@pytest.mark.parametrize("address", ["169.254.169.254", "169.254.0.1", "::ffff:169.254.169.254", "fd00:ec2::254"])
def test_refusal_covers_the_metadata_networks_and_the_ipv4_mapped_form(address):
    assert "cloud metadata address" in targets.refusal(address)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "::1", "fd00:ec2::253", "not-an-ip"])
def test_other_addresses_are_not_refused(address):
    assert targets.refusal(address) is None


def test_resolve_returns_checked_addresses():
    assert probes.run_sync(targets.resolve("127.0.0.1", 80)) == ["127.0.0.1"]
    assert "127.0.0.1" in probes.run_sync(targets.resolve("localhost", 80)) or "::1" in probes.run_sync(
        targets.resolve("localhost", 80)
    )


@pytest.mark.parametrize("address", ["169.254.169.254", "::ffff:169.254.169.254", "[fd00:ec2::254]"])
def test_resolve_refuses_a_metadata_address(address):
    with pytest.raises(targets.TargetRefused, match="cloud metadata address"):
        probes.run_sync(targets.resolve(address, 80))


def test_resolve_says_when_a_name_does_not_resolve():
    with pytest.raises(targets.Unresolvable, match=r"no-such-host\.invalid does not resolve"):
        probes.run_sync(targets.resolve("no-such-host.invalid", 80))


def test_webhooks_share_the_metadata_networks(settings):
    settings.WEBHOOK_ALLOW_METADATA_ADDRESSES = False
    assert "cloud metadata address" in webhooks.metadata_refusal("::ffff:169.254.169.254")
    assert webhooks.metadata_refusal("127.0.0.1") is None
