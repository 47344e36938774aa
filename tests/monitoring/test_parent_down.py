"""Parent down (issue 6 item 3): when a CI's upstream CI is hard down, its failing checks are
``unreachable`` and their alerts join the parent's incident instead of opening their own. Driven
through the poller's engine (``engine.record`` of real outcomes), so the state machine, the
selectors and the alert service work together as in production."""

import time

import pytest

from incidents.choices import IncidentState, TimelineKind
from incidents.models import Incident
from monitoring.models import Alert
from monitoring.probes import Outcome
from monitoring.services import alerts, engine, maintenance
from tests.factories import CIFactory, link
from tests.monitoring.factories import CheckFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def server(network_team):
    return CIFactory(name="srv-01", criticality=2, owner_team=network_team)


@pytest.fixture
def app(server, database_team):
    app = CIFactory(name="shop-app", owner_team=database_team)
    link(app, server, "runs-on")
    return app


def quick_check(ci, name):
    """A check that is hard down at its first failure and recovered at its first success."""
    return CheckFactory(ci=ci, name=name, max_attempts=1, recovery_threshold=1)


@pytest.fixture
def server_check(server):
    return quick_check(server, "SSH port")


@pytest.fixture
def app_check(app):
    return quick_check(app, "Shop HTTP")


def run(check, status, message=""):
    """One result of ``check`` recorded by the engine; returns the check as it is now."""
    engine.record([(check.pk, Outcome(status, 1.0 if status == "up" else None, message, time.time()))])
    check.refresh_from_db()
    return check


def alert_of(check):
    return Alert.objects.filter(monitor=check).latest("id")


def work_notes(incident):
    return list(incident.timeline.filter(kind=TimelineKind.WORK_NOTE).values_list("body", flat=True))


@pytest.fixture
def server_down(server_check):
    """The server's check hard down, with its incident."""
    assert run(server_check, "down", "Connection refused.").state == "down"
    incident = alert_of(server_check).incident
    assert incident is not None
    return incident


def test_a_failing_check_behind_a_down_parent_is_unreachable_and_joins_the_parents_incident(
    server_down, server_check, app_check
):
    assert run(app_check, "down", "Timed out after 5s.").state == "unreachable"

    alert = alert_of(app_check)
    assert (alert.suppressed, alert.parent, alert.incident) == ("parent", alert_of(server_check), server_down)
    assert Incident.objects.count() == 1
    notes = [body for body in work_notes(server_down) if "shop-app" in body]
    assert len(notes) == 1
    assert "unreachable while srv-01 is down" in notes[0] and "Timed out after 5s." in notes[0]


def test_repeated_failures_behind_a_down_parent_write_one_work_note(server_down, app_check):
    run(app_check, "down")
    run(app_check, "down")

    assert alert_of(app_check).occurrences == 2
    assert len([body for body in work_notes(server_down) if "shop-app" in body]) == 1


def test_the_parents_incident_resolves_when_the_parent_recovers_even_while_its_dependents_fail(
    server_down, server_check, app_check
):
    run(app_check, "down")

    run(server_check, "up")

    server_down.refresh_from_db()
    assert server_down.state == IncidentState.RESOLVED
    assert alert_of(app_check).status == "firing"  # it tells on its next result


def test_a_dependent_still_failing_once_the_parent_is_back_opens_its_own_incident(
    server_down, server_check, app_check, database_team
):
    run(app_check, "down")
    run(server_check, "up")

    assert run(app_check, "down", "HTTP 500").state == "down"

    alert = alert_of(app_check)
    assert (alert.suppressed, alert.parent) == ("", None)
    own = alert.incident
    assert own != server_down and own.title == "[shop-app] Shop HTTP" and own.assignment_team == database_team
    assert f"attached to {server_down.number}" in own.description


def test_a_dependent_that_recovers_once_the_parent_is_back_opens_nothing(server_down, server_check, app_check):
    run(app_check, "down")
    run(server_check, "up")

    assert run(app_check, "up").state == "up"

    assert alert_of(app_check).status == "resolved"
    assert Incident.objects.count() == 1


def test_a_chain_of_dependents_all_join_the_incident_of_the_first_ci_down(server_down, app, app_check):
    frontend = CIFactory(name="shop-frontend")
    link(frontend, app)
    frontend_check = quick_check(frontend, "Frontend HTTP")
    run(app_check, "down")

    assert run(frontend_check, "down").state == "unreachable"

    alert = alert_of(frontend_check)
    assert (alert.parent, alert.incident) == (alert_of(app_check), server_down)
    assert Incident.objects.count() == 1


def test_a_dependent_already_failing_on_its_own_keeps_its_incident_when_the_parent_goes_down(server_check, app_check):
    own = alert_of(run(app_check, "down")).incident

    run(server_check, "down")
    run(app_check, "down")

    alert = alert_of(app_check)
    assert (alert.suppressed, alert.incident) == ("", own)
    assert Incident.objects.count() == 2


def test_a_relationship_that_does_not_propagate_failure_has_no_parent(server_down, server):
    stored = CIFactory(name="stored")
    link(stored, server, "backed-up-by")  # the server holds its backups: no failure flows
    check = quick_check(stored, "Agent")

    assert run(check, "down").state == "down"
    assert alert_of(check).incident not in (None, server_down)


def test_an_inbound_alert_on_a_ci_behind_a_down_parent_joins_the_parents_incident(server_down, app):
    alert = alerts.fire("am:shop-5xx", source="alertmanager", name="Shop5xx", severity="major", ci=app)

    assert (alert.suppressed, alert.incident) == ("parent", server_down)


def test_an_inbound_alert_left_behind_by_its_recovered_parent_opens_its_incident_at_the_next_sweep(
    server_down, server_check, app
):
    alert = alerts.fire("am:shop-5xx", source="alertmanager", name="Shop5xx", severity="major", ci=app)
    run(server_check, "up")

    assert maintenance.release_ended() == 1

    alert.refresh_from_db()
    assert alert.suppressed == "" and alert.incident not in (None, server_down)
    assert maintenance.release_ended() == 0


def test_down_parents_of_many_cis_is_one_query(server_down, app, django_assert_num_queries):
    from monitoring import selectors

    others = [CIFactory() for _ in range(20)]

    with django_assert_num_queries(1):
        found = selectors.down_parents([app.pk, *[ci.pk for ci in others]])

    assert found == {app.pk: Alert.objects.get(incident=server_down, parent=None).pk}
