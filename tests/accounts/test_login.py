import logging

import pytest
from axes.models import AccessAttempt
from django.test import override_settings

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_signing_in_and_out(client, alice):
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_refused_with_a_message(client, alice):
    response = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "didn't match" in response.content.decode()


@override_settings(AXES_FAILURE_LIMIT=3)
def test_repeated_bad_logins_lock_out_even_the_right_password_and_are_logged(client, alice, caplog):
    for _ in range(3):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    with caplog.at_level(logging.WARNING, logger="itom.security"):
        response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert client.get("/").status_code == 302  # not signed in
    attempt = AccessAttempt.objects.get(username="alice")
    assert attempt.failures_since_start >= 3
    assert any("locked-out user 'alice'" in record.getMessage() for record in caplog.records)


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_lockout_is_per_user_and_address_so_others_can_still_sign_in(client, alice, bob):
    for _ in range(3):
        client.post("/login/", {"username": "alice", "password": "wrong"})
    response = client.post("/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
