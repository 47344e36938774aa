"""Creating, changing, deleting and testing checks (``monitoring.services.checks``): every bad
input is a ValidationError naming the field, and nothing is written."""

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from itom.models import ObjectChange
from monitoring import probes
from monitoring.models import Check, CheckResult, Zone
from monitoring.services import checks
from tests.factories import CIFactory
from tests.monitoring.servers import TCPServer, closed_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def ci(db):
    return CIFactory(name="web-01")


def tcp_fields(the_ci, **fields):
    return {"name": "web-01 ssh", "ci": the_ci, "kind": "tcp", "target": "web-01.example.com", "port": 22, **fields}


def written():
    return Check.objects.count(), ObjectChange.objects.count()


def refused(call, **fields):
    """The errors of ``call(**fields)``, asserting that nothing was written."""
    before = written()
    with pytest.raises(ValidationError) as caught:
        call(**fields)
    assert written() == before
    return caught.value.message_dict


# --- create -----------------------------------------------------------------------------------------


def test_a_check_is_created_with_its_settings_normalised_in_the_default_zone(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci, params={"expect": "SSH-"}))
    check.refresh_from_db()
    assert (check.kind, check.target, check.port) == ("tcp", "web-01.example.com", 22)
    assert check.params == {"send": "", "expect": "SSH-"}
    assert check.zone == Zone.objects.get(name="default")
    assert check.state == "pending"
    assert ObjectChange.objects.filter(object_id=str(check.pk), action="create").exists()


def test_a_new_check_is_first_due_within_its_interval_capped_at_a_minute(alice, ci):
    before = timezone.now()
    short = checks.create_check(user=alice, **tcp_fields(ci, interval=20, timeout=5))
    long = checks.create_check(user=alice, **tcp_fields(ci, name="slow", interval=600))
    after = timezone.now()
    assert before <= short.next_due_at <= after + timedelta(seconds=20)
    assert before <= long.next_due_at <= after + timedelta(seconds=60)


def test_a_heartbeat_is_first_due_after_its_period_and_grace(alice, ci):
    before = timezone.now()
    check = checks.create_check(
        user=alice, name="nightly backup", ci=ci, kind="heartbeat", params={"period": 3600, "grace": 600}
    )
    after = timezone.now()
    assert before + timedelta(seconds=4200) <= check.next_due_at <= after + timedelta(seconds=4200)
    assert (check.target, check.port) == ("", None)
    assert (check.max_attempts, check.recovery_threshold) == (1, 1)  # one missed run, one ping


def test_a_heartbeat_keeps_the_attempts_it_is_given(alice, ci):
    check = checks.create_check(
        user=alice, name="hourly sync", ci=ci, kind="heartbeat", params={"period": 3600}, max_attempts=2
    )
    assert (check.max_attempts, check.recovery_threshold) == (2, 1)


def test_the_zone_may_be_given_by_name_or_id(alice, ci):
    branch = Zone.objects.create(name="branch")
    assert checks.create_check(user=alice, **tcp_fields(ci, zone="branch")).zone == branch
    assert checks.create_check(user=alice, **tcp_fields(ci, zone=branch.pk)).zone == branch
    assert checks.create_check(user=alice, **tcp_fields(ci.pk, zone=branch)).zone == branch


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"kind": "smtp"}, "kind", "Unknown check kind 'smtp'"),
        ({"kind": ""}, "kind", "Choose the kind of check."),
        ({"target": ""}, "target", "A host name or IP address is required."),
        ({"target": "not a host"}, "target", "'not a host' is not a valid host name or IP address."),
        ({"port": 0}, "port", "The port must be between 1 and 65535."),
        ({"port": 70000}, "port", "The port must be between 1 and 65535."),
        ({"port": None}, "port", "A port between 1 and 65535 is required."),
        ({"target": "169.254.169.254"}, "target", "169.254.169.254 is a cloud metadata address"),
        ({"kind": "http", "target": "http://169.254.169.254/", "port": None}, "target", "169.254.169.254 is a cloud"),
        ({"interval": 5}, "interval", "The interval must be between 10 and"),
        ({"interval": "often"}, "interval", "“often” value must be an integer."),
        ({"timeout": 0}, "timeout", "The timeout must be over 0 and at most 60 seconds."),
        ({"timeout": 61, "interval": 120}, "timeout", "The timeout must be over 0 and at most 60 seconds."),
        ({"timeout": 30, "interval": 30}, "timeout", "The timeout must be shorter than the interval."),
        ({"retry_interval": 1}, "retry_interval", "The retry interval must be between 10 and"),
        ({"max_attempts": 0}, "max_attempts", "Ensure this value is greater than or equal to 1."),
        ({"recovery_threshold": 21}, "recovery_threshold", "Ensure this value is less than or equal to 20."),
        ({"severity": "apocalyptic"}, "severity", "Value 'apocalyptic' is not a valid choice."),
        ({"params": {"expect": 5}}, "params", "expect: expected text."),
        ({"params": {"colour": "red"}}, "params", "Unknown setting(s) for a tcp check: colour"),
        ({"ci": None}, "ci", "Choose the CI this check watches."),
        ({"ci": 999999}, "ci", "Unknown CI: 999999."),
        ({"zone": "mars"}, "zone", "Unknown zone: mars."),
        ({"name": "  "}, "name", "Give the check a name."),
        ({"colour": "red"}, "colour", "Not a field of a check that can be set."),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(alice, ci, fields, field, message):
    errors = refused(checks.create_check, user=alice, **tcp_fields(ci, **fields))
    assert field in errors
    assert errors[field][0].startswith(message)


def test_the_interval_floor_is_the_setting(alice, ci, settings):
    settings.MONITORING_MIN_INTERVAL = 60
    errors = refused(checks.create_check, user=alice, **tcp_fields(ci, interval=30, timeout=5, retry_interval=60))
    assert errors == {"interval": ["The interval must be between 60 and 604800 seconds."]}


def test_every_bad_field_is_reported_at_once(alice, ci):
    errors = refused(checks.create_check, user=alice, **tcp_fields(ci, target="", port=0, interval=1, ci=None))
    assert set(errors) >= {"target", "port", "interval", "ci"}


# --- update -----------------------------------------------------------------------------------------


def test_changing_the_interval_reschedules_and_a_rename_does_not(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci))
    far = timezone.now() + timedelta(days=1)
    Check.objects.filter(pk=check.pk).update(next_due_at=far)
    assert checks.update_check(check, user=alice, name="ssh on web-01").next_due_at == far
    rescheduled = checks.update_check(check, user=alice, interval=120)
    assert rescheduled.interval == 120
    assert rescheduled.next_due_at < far


def test_changing_the_target_reschedules(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci))
    far = timezone.now() + timedelta(days=1)
    Check.objects.filter(pk=check.pk).update(next_due_at=far)
    assert checks.update_check(check, user=alice, target="web-02.example.com").next_due_at < far


def test_disabling_a_check_drops_the_lease_of_the_batch_running_it(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci))
    Check.objects.filter(pk=check.pk).update(claimed_until=timezone.now() + timedelta(minutes=1))
    check = checks.update_check(check, user=alice, enabled=False)
    check.refresh_from_db()
    assert (check.enabled, check.claimed_until) == (False, None)


def test_a_new_kind_starts_from_its_own_default_settings(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci, params={"expect": "SSH-"}))
    check = checks.update_check(check, user=alice, kind="icmp", port=None)
    assert (check.kind, check.port, check.params) == ("icmp", None, {"count": 3})


def test_settings_are_validated_on_update_and_a_refused_update_writes_nothing(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci))
    before = Check.objects.filter(pk=check.pk).values().get()
    for fields, field in [
        ({"port": 70000}, "port"),
        ({"target": "169.254.169.254"}, "target"),
        ({"interval": 3}, "interval"),
        ({"kind": "gopher"}, "kind"),
        ({"params": {"count": 3}}, "params"),
        ({"name": ""}, "name"),
    ]:
        errors = refused(checks.update_check, check=check, user=alice, **fields)
        assert field in errors
    assert Check.objects.filter(pk=check.pk).values().get() == before


def test_updating_a_check_that_was_deleted_names_it(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci))
    Check.objects.filter(pk=check.pk).delete()
    with pytest.raises(ValidationError) as caught:
        checks.update_check(check, user=alice, name="gone")
    assert "check" in caught.value.message_dict


# --- delete -----------------------------------------------------------------------------------------


def test_deleting_a_check_deletes_its_results(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci))
    CheckResult.objects.create(monitor=check, at=timezone.now(), status="up")
    checks.delete_check(check, user=alice)
    assert not Check.objects.filter(pk=check.pk).exists()
    assert not CheckResult.objects.exists()
    assert ObjectChange.objects.filter(object_id=str(check.pk), action="delete").exists()


# --- test now ---------------------------------------------------------------------------------------


def test_testing_unsaved_fields_runs_the_check_once_and_writes_nothing(ci):
    with TCPServer(banner=b"SSH-2.0-test\r\n") as server:
        before = written()
        outcome = checks.test_check(kind="tcp", target="127.0.0.1", port=server.port, params={"expect": "SSH-2.0"})
        assert written() == before
    assert outcome.status == "up"
    assert "answered with 'SSH-2.0'" in outcome.message


def test_testing_a_closed_port_reports_it_down(ci):
    port = closed_port()
    outcome = checks.test_check(name="x", ci=ci, kind="tcp", target="127.0.0.1", port=port, timeout=2)
    assert (outcome.status, outcome.message) == ("down", f"Cannot connect to 127.0.0.1:{port}: connection refused.")


def test_testing_validates_like_create(ci):
    assert refused(checks.test_check, kind="tcp", target="127.0.0.1", port=0) == {
        "port": ["The port must be between 1 and 65535."]
    }
    assert "target" in refused(checks.test_check, kind="icmp", target="169.254.169.254")
    assert "kind" in refused(checks.test_check, kind="")


def test_a_heartbeat_cannot_be_tested_it_is_pushed(alice, ci):
    assert refused(checks.test_check, kind="heartbeat", params={"period": 60}) == {
        "kind": ["A heartbeat is pushed: use its ping URLs."]
    }
    heartbeat = checks.create_check(user=alice, name="cron", ci=ci, kind="heartbeat")
    with pytest.raises(ValidationError):
        checks.run_now(heartbeat)


def test_a_saved_check_runs_now_without_writing(alice, ci):
    with TCPServer() as server:
        check = checks.create_check(user=alice, **tcp_fields(ci, target="127.0.0.1", port=server.port))
        before = written()
        assert checks.run_now(check).status == "up"
        assert written() == before


# --- specs and batches ------------------------------------------------------------------------------


def test_a_spec_is_a_plain_copy_of_the_check(alice, ci):
    check = checks.create_check(user=alice, **tcp_fields(ci, timeout=4))
    spec = probes.CheckSpec.of(check)
    assert (spec.id, spec.kind, spec.target, spec.port, spec.timeout) == (check.pk, "tcp", check.target, 22, 4.0)
    assert spec.params == check.params
    assert spec.due_at == check.next_due_at.timestamp()


def test_a_batch_starts_no_check_before_it_is_due():
    with TCPServer() as server:
        due = time.time() + 0.3
        specs = [probes.CheckSpec(n, "tcp", "127.0.0.1", server.port, {}, 2, due_at=due) for n in range(3)]
        outcomes = probes.run_sync(probes.run_many(specs, concurrency=2))
    assert [outcome.status for outcome in outcomes] == ["up", "up", "up"]
    assert all(outcome.started_at >= due for outcome in outcomes)


def test_a_probe_never_raises():
    outcomes = probes.run_sync(
        probes.run_many(
            [
                probes.CheckSpec(1, "gopher", "x", None, {}, 1),
                probes.CheckSpec(2, "heartbeat", "", None, {}, 1),
                probes.CheckSpec(3, "tcp", "127.0.0.1", None, {}, 1),  # no port: a broken spec
                probes.CheckSpec(4, "dns", "example.com", None, {"record_type": "BOGUS"}, 1),
            ],
            concurrency=4,
        )
    )
    assert [outcome.status for outcome in outcomes[:2]] == ["unknown", "unknown"]
    assert outcomes[2].status in ("down", "unknown")
    assert outcomes[3].status == "unknown"
    assert outcomes[0].message == "Not a polled check kind: 'gopher'."
    assert all(len(outcome.message) <= 500 for outcome in outcomes)


def test_messages_are_one_line_of_at_most_500_characters():
    outcome = probes.Outcome("down", None, "line\n" * 400)
    assert len(outcome.message) == 500
    assert "\n" not in outcome.message
