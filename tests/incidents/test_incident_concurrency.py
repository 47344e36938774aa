"""Concurrency on PostgreSQL with real threads and committed data: two agents changing the same
incident at once (one wins, the other gets a 409 or a 412 and nothing of theirs is written), and
100 incidents opened at once get 100 different numbers."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from incidents.choices import TimelineKind
from incidents.models import Incident
from tests.conftest import token_client
from tests.factories import open_incident

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


def at_once(*calls):
    """Run the calls in threads released together; returns their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait(timeout=30)
            return call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(run, call) for call in calls]]


def test_two_agents_moving_the_same_incident_at_once_one_wins_the_other_gets_409(alice, bob):
    assert connection.vendor == "postgresql"
    incident = open_incident(alice, title="Both on it")
    alice_api, bob_api = token_client(alice), token_client(bob)
    url = f"/api/v1/incidents/{incident.pk}/transition/"

    responses = at_once(
        lambda: alice_api.post(url, {"state": "resolved", "resolution_code": "solved", "note": "Fixed"}, format="json"),
        lambda: bob_api.post(url, {"state": "canceled", "note": "Duplicate"}, format="json"),
    )

    codes = sorted(response.status_code for response in responses)
    assert codes == [200, 409], [r.content for r in responses]
    winner, loser = sorted(responses, key=lambda r: r.status_code)
    incident.refresh_from_db()
    assert incident.state == winner.json()["state"]
    assert loser.json()["state"] == incident.state  # the loser is told the state it lost to
    assert loser.json()["allowed"] == ([] if incident.state == "canceled" else ["in_progress", "closed"])
    moves = incident.timeline.filter(kind=TimelineKind.STATE).exclude(data__to="new")
    assert moves.count() == 1


def test_two_agents_editing_from_the_same_version_one_wins_the_other_gets_412(alice, bob):
    incident = open_incident(alice, title="Original")
    alice_api, bob_api = token_client(alice), token_client(bob)
    url = f"/api/v1/incidents/{incident.pk}/"
    etag = alice_api.get(url)["ETag"]
    assert bob_api.get(url)["ETag"] == etag

    responses = at_once(
        lambda: alice_api.patch(url, {"title": "Alice's title"}, format="json", HTTP_IF_MATCH=etag),
        lambda: bob_api.patch(url, {"title": "Bob's title"}, format="json", HTTP_IF_MATCH=etag),
    )

    assert sorted(r.status_code for r in responses) == [200, 412]
    incident.refresh_from_db()
    assert incident.title == next(r for r in responses if r.status_code == 200).json()["title"]


def test_a_hundred_incidents_opened_at_once_get_a_hundred_numbers(alice):
    def create(n):
        try:
            return open_incident(alice, title=f"Storm {n}").number
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=16) as pool:
        numbers = list(pool.map(create, range(100)))

    assert len(set(numbers)) == 100
    assert Incident.objects.filter(title__startswith="Storm ").count() == 100
    values = sorted(int(number[3:]) for number in numbers)
    assert values == list(range(values[0], values[0] + 100))  # no gaps, no repeats
