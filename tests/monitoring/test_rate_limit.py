"""Integration tokens and the per-integration rate limit of the inbound endpoints.

An unknown, malformed or disabled integration's token is a 401, a token of another kind of
integration a 403. Requests and items (alerts, events, samples) are counted per integration and
minute; a request over either limit is a 429 naming the limit (``{"detail", "limit", "allowed"}``
with ``Retry-After``) and nothing of it is processed or counted. The count is one conditional
UPDATE, so concurrent requests can't overshoot the limit."""

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from monitoring.models import Alert, IngestWindow, MetricSample
from monitoring.services import integrations
from tests.conftest import token_client
from tests.factories import CIFactory
from tests.monitoring.ingest_helpers import (
    ALERTMANAGER,
    EVENTS,
    METRICS,
    am_alert,
    am_payload,
    client_for,
    integration,
)

pytestmark = pytest.mark.django_db


def events(*keys):
    return {"events": [{"key": key, "name": f"Problem {key}", "severity": "info"} for key in keys]}


# --- tokens ------------------------------------------------------------------------------------


def test_the_token_is_accepted_as_bearer_or_token():
    _, token = integration("events")
    assert client_for(token, "Bearer").post(EVENTS, events("a"), format="json").status_code == 202
    assert client_for(token, "Token").post(EVENTS, events("b"), format="json").status_code == 202


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer itomi_00000000_not-a-real-secret",
        "Bearer something-else",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_no_or_an_unknown_token_is_a_401_and_nothing_is_processed(anon, header):
    if header:
        anon.credentials(HTTP_AUTHORIZATION=header)
    response = anon.post(EVENTS, events("a"), format="json")
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not Alert.objects.exists()


def test_a_tampered_token_is_a_401():
    _, token = integration("events")
    assert client_for(token[:-1] + ("A" if token[-1] != "A" else "B")).post(EVENTS, events("a")).status_code == 401


def test_a_disabled_integrations_token_is_a_401():
    sender, token = integration("events")
    integrations.update_integration(sender, user=None, enabled=False)
    response = client_for(token).post(EVENTS, events("a"), format="json")
    assert response.status_code == 401
    assert not Alert.objects.exists()


def test_a_token_of_another_kind_of_integration_is_a_403():
    _, token = integration("events")
    response = client_for(token).post(ALERTMANAGER, am_payload(am_alert("0001")), format="json")
    assert response.status_code == 403
    assert "events" in response.json()["detail"].lower()
    assert not Alert.objects.exists()


def test_a_persons_api_token_does_not_open_the_alert_endpoints(alice):
    response = token_client(alice).post(EVENTS, events("a"), format="json")
    assert response.status_code == 401
    assert not Alert.objects.exists()


def test_the_token_records_when_it_was_last_used():
    sender, token = integration("events")
    assert sender.last_used_at is None
    client_for(token).post(EVENTS, events("a"), format="json")
    sender.refresh_from_db()
    assert sender.last_used_at is not None


# --- the limits --------------------------------------------------------------------------------


def test_over_the_requests_per_minute_is_a_429_naming_the_limit_and_nothing_is_processed():
    _, token = integration("events", requests_per_minute=3)
    client = client_for(token)
    for key in ("a", "b", "c"):
        assert client.post(EVENTS, events(key), format="json").status_code == 202
    response = client.post(EVENTS, events("d"), format="json")
    assert response.status_code == 429
    body = response.json()
    assert (body["limit"], body["allowed"]) == ("requests_per_minute", 3)
    assert "3 requests per minute" in body["detail"]
    assert 1 <= int(response["Retry-After"]) <= 60
    assert sorted(Alert.objects.values_list("fingerprint", flat=True)) == ["ev:a", "ev:b", "ev:c"]
    assert IngestWindow.objects.get().requests == 3


def test_over_the_items_per_minute_is_a_429_naming_the_limit_and_nothing_is_processed():
    _, token = integration("events", items_per_minute=5)
    client = client_for(token)
    assert client.post(EVENTS, events("a", "b", "c"), format="json").status_code == 202
    response = client.post(EVENTS, events("d", "e", "f"), format="json")
    assert response.status_code == 429
    assert (response.json()["limit"], response.json()["allowed"]) == ("items_per_minute", 5)
    assert Alert.objects.count() == 3
    window = IngestWindow.objects.get()
    assert (window.requests, window.items) == (1, 3)
    assert client.post(EVENTS, events("d", "e"), format="json").status_code == 202  # exactly up to the limit


def test_one_request_larger_than_the_items_limit_is_a_429_at_once():
    _, token = integration("alertmanager", items_per_minute=2)
    payload = am_payload(*(am_alert(f"{n:04d}", severity="info") for n in range(3)))
    response = client_for(token).post(ALERTMANAGER, payload, format="json")
    assert response.status_code == 429
    assert response.json()["limit"] == "items_per_minute"
    assert not Alert.objects.exists() and not IngestWindow.objects.exists()


def test_the_counters_are_per_integration():
    _, busy = integration("events", requests_per_minute=1)
    _, quiet = integration("events", requests_per_minute=1)
    assert client_for(busy).post(EVENTS, events("a"), format="json").status_code == 202
    assert client_for(busy).post(EVENTS, events("b"), format="json").status_code == 429
    assert client_for(quiet).post(EVENTS, events("c"), format="json").status_code == 202
    assert IngestWindow.objects.count() == 2


def test_the_metrics_endpoint_counts_samples_against_a_metrics_integration():
    ci = CIFactory(name="db-01")
    _, token = integration("metrics", items_per_minute=3)
    client = client_for(token)
    samples = [{"ci": ci.pk, "name": "cpu.percent", "value": v} for v in (1, 2)]
    assert client.post(METRICS, {"samples": samples}, format="json").status_code == 202
    response = client.post(METRICS, {"samples": samples}, format="json")
    assert response.status_code == 429
    assert response.json()["limit"] == "items_per_minute"
    assert MetricSample.objects.count() == 2


def test_a_new_minute_starts_new_counts_and_old_minutes_are_cleared():
    sender, _ = integration("events", requests_per_minute=2, items_per_minute=100)
    start = timezone.make_aware(datetime(2026, 3, 2, 10, 0, 0))
    integrations.consume(sender, 10, now=start)
    integrations.consume(sender, 10, now=start + timedelta(seconds=59))
    with pytest.raises(integrations.RateLimited) as refused:
        integrations.consume(sender, 1, now=start + timedelta(seconds=45))
    assert (refused.value.limit, refused.value.retry_after) == ("requests_per_minute", 15)
    assert integrations.consume(sender, 1, now=start + timedelta(minutes=1)) == integrations.Usage(1, 1)
    integrations.consume(sender, 1, now=start + timedelta(hours=2))
    assert list(IngestWindow.objects.values_list("minute", flat=True)) == [start + timedelta(hours=2)]


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_never_overshoot_the_limit():
    """Twelve threads race for seven requests of the minute: exactly seven win."""
    sender, _ = integration("events", requests_per_minute=7, items_per_minute=10_000)
    now = timezone.now()
    barrier = threading.Barrier(12)
    outcomes = []

    def one():
        try:
            barrier.wait(timeout=30)
            try:
                integrations.consume(sender, 5, now=now)
                outcomes.append("ok")
            except integrations.RateLimited as exc:
                outcomes.append(exc.limit)
        finally:
            connection.close()

    threads = [threading.Thread(target=one) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok"] * 7 + ["requests_per_minute"] * 5
    window = IngestWindow.objects.get()
    assert (window.requests, window.items) == (7, 35)
