"""The check pages with Django's client: the list (filters, CSV, query count), a check's page (state,
attempts, flapping, results, latency chart, uptime, alerts and incidents; a heartbeat's curl
lines), the form (per-kind settings become ``params``; bad input said on its field with nothing
written), "Test now" against a real local listener, delete and History. Viewers read, agents
write, anonymous people are sent to sign in."""

import datetime as dt

import pytest
from django.utils import timezone

from incidents.models import Incident
from itom.models import ObjectChange
from monitoring.models import Check, CheckResult
from tests.factories import CIFactory
from tests.monitoring.factories import AlertFactory, CheckFactory, default_zone
from tests.monitoring.pages import assert_refused, assert_sends_to_sign_in, names, text_of
from tests.monitoring.servers import TCPServer, closed_port

pytestmark = pytest.mark.django_db


def tcp_form(the_ci, **overrides):
    data = {
        "name": "db port",
        "ci": the_ci.pk,
        "ci_search": the_ci.name,
        "kind": "tcp",
        "target": "127.0.0.1",
        "port": "5432",
        "interval": "60",
        "timeout": "5",
        "max_attempts": "3",
        "retry_interval": "30",
        "recovery_threshold": "2",
        "auto_resolve": "on",
        "severity": "major",
        "zone": default_zone().pk,
        "enabled": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- the list ---------------------------------------------------------------------------------


def test_viewers_list_checks_and_filter_them_by_state_and_search(client, victor):
    CheckFactory(name="web ping", state="up")
    CheckFactory(name="db port", state="down", target="db-01.example")
    client.force_login(victor)
    response = client.get("/monitoring/checks/")
    assert response.status_code == 200
    assert sorted(names(response)) == ["db port", "web ping"]
    assert names(client.get("/monitoring/checks/", {"state": "down"})) == ["db port"]
    assert names(client.get("/monitoring/checks/", {"q": "db-01"})) == ["db port"]
    assert names(client.get("/monitoring/checks/", {"problem": "true"})) == ["db port"]
    assert "New check" not in text_of(response)


def test_the_list_of_a_cis_checks_is_the_ci_pages_link(client, victor):
    check = CheckFactory(name="db port")
    CheckFactory(name="elsewhere")
    client.force_login(victor)
    assert names(client.get("/monitoring/checks/", {"ci": check.ci.pk})) == ["db port"]


def test_the_list_exports_csv(client, victor):
    CheckFactory(name="db port", state="down")
    client.force_login(victor)
    response = client.get("/monitoring/checks/", {"export": "csv"})
    body = b"".join(response.streaming_content).decode()
    assert body.splitlines()[0].startswith("Name,State,CI,Kind,Target")
    assert "db port,Down," in body


def test_the_list_costs_a_bounded_number_of_queries(client, victor, django_assert_max_num_queries):
    for i in range(30):
        CheckFactory(name=f"check {i}", state="down" if i % 2 else "up")
    client.force_login(victor)
    with django_assert_max_num_queries(12):
        response = client.get("/monitoring/checks/")
    assert len(response.context["rows"]) == 30


def test_anonymous_people_are_sent_to_sign_in(client):
    check = CheckFactory()
    assert_sends_to_sign_in(client, "/monitoring/checks/", f"/monitoring/checks/{check.pk}/", "/monitoring/checks/new/")
    assert client.post("/monitoring/checks/test/", tcp_form(check.ci)).status_code == 302


# --- a check's page ---------------------------------------------------------------------------


def test_a_checks_page_shows_its_state_attempts_flapping_results_uptime_and_alerts(client, victor):
    now = timezone.now()
    check = CheckFactory(
        name="db port",
        state="down",
        state_type="soft",
        attempt=2,
        max_attempts=3,
        flapping=True,
        flap_percent=62.0,
        last_message="Connection refused",
        last_checked_at=now,
        next_due_at=now + dt.timedelta(seconds=30),
        last_state_change_at=now - dt.timedelta(minutes=5),
    )
    for minutes, status, latency in ((3, "up", 12.5), (2, "up", 14.0), (1, "down", None)):
        CheckResult.objects.create(
            monitor=check, at=now - dt.timedelta(minutes=minutes), status=status, latency_ms=latency
        )
    incident = Incident.objects.create(title="[db-01] db port", impact=2, urgency=1)
    AlertFactory(name="db port down", monitor=check, ci=check.ci, incident=incident, fingerprint=f"check:{check.pk}")
    client.force_login(victor)
    response = client.get(f"/monitoring/checks/{check.pk}/")
    assert response.status_code == 200
    body = text_of(response)
    assert "2/3" in body and "soft: it alerts at 3" in body
    assert "62 % state changes" in body
    assert "Connection refused" in body
    assert len(response.context["results"]) == 3
    assert [point["y"] for point in response.context["chart"]["points"]] == [12.5, 14.0]
    assert 'id="latency-chart"' in body
    assert response.context["uptimes"]["24h"] == pytest.approx(66.667, abs=0.01)
    assert "66.67 %" in body
    assert incident.number in body and "db port down" in body
    assert "/edit/" not in body and "Test now" not in body  # viewers read


def test_a_heartbeats_page_shows_its_curl_lines_on_the_portals_address(client, alice, settings):
    check = CheckFactory(
        name="nightly backup", kind="heartbeat", target="", port=None, params={"period": 86400, "grace": 600}
    )
    client.force_login(alice)
    settings.PORTAL_URL = "https://itom.example.com/"
    body = text_of(client.get(f"/monitoring/checks/{check.pk}/"))
    url = f"https://itom.example.com/ping/{check.uuid}"
    assert f"curl -fsS -m 10 --retry 5 -o /dev/null {url}" in body
    assert f"{url}/start" in body and f"{url}/fail" in body
    settings.PORTAL_URL = ""
    body = text_of(client.get(f"/monitoring/checks/{check.pk}/"))
    assert f"curl -fsS -m 10 --retry 5 -o /dev/null http://testserver/ping/{check.uuid}" in body
    assert "Test now" not in body  # a heartbeat is pushed


def test_the_history_tab_lists_the_writes(client, alice):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    client.post("/monitoring/checks/new/", tcp_form(ci))
    check = Check.objects.get()
    response = client.get(f"/monitoring/checks/{check.pk}/history/")
    assert response.status_code == 200
    assert [change.user_name for change in response.context["changes"]] == ["alice"]


# --- the form ---------------------------------------------------------------------------------


def test_an_agent_creates_a_tcp_check_on_a_ci(client, alice):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    assert client.get("/monitoring/checks/new/").status_code == 200
    response = client.post("/monitoring/checks/new/", tcp_form(ci, tcp_expect="PostgreSQL"))
    check = Check.objects.get()
    assert response["Location"] == f"/monitoring/checks/{check.pk}/"
    assert (check.name, check.ci, check.kind, check.target, check.port) == ("db port", ci, "tcp", "127.0.0.1", 5432)
    assert check.params == {"send": "", "expect": "PostgreSQL"}
    assert check.next_due_at is not None and check.zone.name == "default"
    assert ObjectChange.objects.filter(object_repr="db port", action="create", user_name="alice").exists()


def test_the_form_of_a_new_check_picks_the_ci_of_the_link(client, alice):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    response = client.get("/monitoring/checks/new/", {"ci": ci.pk})
    assert response.context["form"].initial["ci"] == ci.pk
    assert 'value="db-01"' in text_of(response)


def test_a_ci_typed_by_name_is_taken_without_a_pick(client, alice):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    client.post("/monitoring/checks/new/", tcp_form(ci, ci=""))
    assert Check.objects.get().ci == ci


def test_an_http_checks_settings_become_its_params(client, alice):
    ci = CIFactory(name="shop")
    client.force_login(alice)
    response = client.post(
        "/monitoring/checks/new/",
        tcp_form(
            ci,
            name="shop home",
            kind="http",
            target="https://shop.example.com/health",
            port="",
            http_method="HEAD",
            http_expected_status="200-299, 301",
            http_keyword="ok",
            http_headers="Accept: text/html\nX-Probe: itom",
            http_latency_warning_ms="800",
            http_max_redirects="2",
            tcp_send="ignored: another kind's field",
        ),
    )
    check = Check.objects.get()
    assert response.status_code == 302
    assert check.params["method"] == "HEAD"
    assert check.params["keyword"] == "ok" and check.params["keyword_absent"] is False
    assert check.params["headers"] == {"Accept": "text/html", "X-Probe": "itom"}
    assert check.params["latency_warning_ms"] == 800 and check.params["max_redirects"] == 2
    assert check.params["verify_tls"] is False  # the box was not ticked
    assert "send" not in check.params
    assert check.params["expected_status"] in (["200-299", 301], ["200-299", "301"], ["200-299", "301-301"])


def test_a_heartbeat_needs_no_target(client, alice):
    ci = CIFactory(name="backup-01")
    client.force_login(alice)
    client.post(
        "/monitoring/checks/new/",
        tcp_form(
            ci,
            name="nightly backup",
            kind="heartbeat",
            target="",
            port="",
            heartbeat_period="3600",
            heartbeat_grace="300",
        ),
    )
    check = Check.objects.get()
    assert (check.kind, check.target, check.port) == ("heartbeat", "", None)
    assert check.params == {"period": 3600, "grace": 300}


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"port": "70000"}, "port", "65535"),
        ({"port": "0"}, "port", "65535"),
        ({"port": ""}, "port", "port"),
        ({"interval": "5"}, "interval", "interval"),
        ({"target": "169.254.169.254"}, "target", "metadata"),
        ({"target": ""}, "target", "required"),
        ({"ci": "", "ci_search": "no-such-ci"}, "ci_search", "No CI is named"),
        ({"kind": "gopher"}, "kind", "gopher"),
        ({"timeout": "90"}, "timeout", "60"),
        (
            {"kind": "http", "target": "https://shop.example.com/", "port": "", "http_expected_status": "abc"},
            "http_expected_status",
            "abc",
        ),
        (
            {"kind": "http", "target": "https://shop.example.com/", "port": "", "http_headers": "no colon here"},
            "http_headers",
            "Name: value",
        ),
        (
            {
                "kind": "tls",
                "target": "shop.example.com",
                "port": "",
                "tls_warning_days": "5",
                "tls_critical_days": "9",
            },
            "tls_critical_days",
            "below",
        ),
    ],
)
def test_bad_input_is_said_on_its_field_and_nothing_is_written(client, alice, overrides, field, words):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    response = client.post("/monitoring/checks/new/", tcp_form(ci, **overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert words.lower() in " ".join(errors[field]).lower(), errors
    assert words.lower() in text_of(response).lower()
    assert not Check.objects.exists()


def test_an_agent_edits_a_check_and_its_settings_stay(client, alice):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    client.post("/monitoring/checks/new/", tcp_form(ci, tcp_expect="PostgreSQL"))
    check = Check.objects.get()
    form = client.get(f"/monitoring/checks/{check.pk}/edit/").context["form"]
    assert form.initial["tcp_expect"] == "PostgreSQL" and form.initial["port"] == 5432
    response = client.post(
        f"/monitoring/checks/{check.pk}/edit/", tcp_form(ci, interval="120", tcp_expect="PostgreSQL")
    )
    assert response["Location"] == f"/monitoring/checks/{check.pk}/"
    check.refresh_from_db()
    assert check.interval == 120 and check.params["expect"] == "PostgreSQL"
    response = client.post(f"/monitoring/checks/{check.pk}/edit/", tcp_form(ci, interval="1"))
    assert "interval" in response.context["form"].errors
    check.refresh_from_db()
    assert check.interval == 120


def test_an_agent_deletes_a_check(client, alice):
    check = CheckFactory(name="db port")
    client.force_login(alice)
    assert client.get(f"/monitoring/checks/{check.pk}/delete/").status_code == 200
    response = client.post(f"/monitoring/checks/{check.pk}/delete/")
    assert response["Location"] == "/monitoring/checks/"
    assert not Check.objects.exists()


def test_viewers_may_not_write_checks(client, victor):
    check = CheckFactory(name="db port")
    client.force_login(victor)
    assert_refused(
        client,
        get=["/monitoring/checks/new/"],
        post=[
            ("/monitoring/checks/new/", tcp_form(check.ci, name="sneaky")),
            (f"/monitoring/checks/{check.pk}/edit/", tcp_form(check.ci, name="renamed")),
            f"/monitoring/checks/{check.pk}/delete/",
            ("/monitoring/checks/test/", tcp_form(check.ci)),
            f"/monitoring/checks/{check.pk}/test/",
        ],
    )
    assert list(Check.objects.values_list("name", flat=True)) == ["db port"]


# --- "Test now" -------------------------------------------------------------------------------


def test_test_now_runs_the_forms_check_against_a_real_listener_and_writes_nothing(client, alice):
    ci = CIFactory(name="db-01")
    listener = TCPServer()
    client.force_login(alice)
    try:
        response = client.post(
            "/monitoring/checks/test/", tcp_form(ci, name="", port=str(listener.port)), HTTP_HX_REQUEST="true"
        )
    finally:
        listener.close()
    assert response.status_code == 200
    assert response.context.get("status") == "up", text_of(response)
    assert response.context["latency_ms"] is not None
    body = text_of(response)
    assert 'data-outcome="up"' in body and " ms" in body
    down = client.post("/monitoring/checks/test/", tcp_form(ci, port=str(closed_port())), HTTP_HX_REQUEST="true")
    assert down.context["status"] == "down"
    assert 'data-outcome="down"' in text_of(down)
    assert not Check.objects.exists() and not CheckResult.objects.exists()


def test_test_now_says_bad_fields_on_the_fields_out_of_band(client, alice):
    ci = CIFactory(name="db-01")
    client.force_login(alice)
    response = client.post("/monitoring/checks/test/", tcp_form(ci, port="70000"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    body = text_of(response)
    assert 'data-outcome="refused"' in body
    assert (
        '<div class="field-errors" id="errors-port" hx-swap-oob="true"><div class="invalid-feedback d-block">' in body
    )
    assert '<div class="field-errors" id="errors-target" hx-swap-oob="true"></div>' in body
    heartbeat = client.post("/monitoring/checks/test/", tcp_form(ci, kind="heartbeat", target="", port=""))
    assert "ping URLs" in text_of(heartbeat)


def test_test_now_on_a_checks_page_runs_the_saved_check(client, alice):
    listener = TCPServer()
    check = CheckFactory(name="db port", port=listener.port)
    client.force_login(alice)
    try:
        body = text_of(client.get(f"/monitoring/checks/{check.pk}/"))
        assert f'hx-post="/monitoring/checks/{check.pk}/test/"' in body
        response = client.post(f"/monitoring/checks/{check.pk}/test/", HTTP_HX_REQUEST="true")
    finally:
        listener.close()
    assert response.context["status"] == "up"
    assert not CheckResult.objects.exists()
