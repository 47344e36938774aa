from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import APIToken

pytestmark = pytest.mark.django_db


def client_with(key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_key_is_stored_only_as_a_hash(alice):
    token, key = services.create_api_token(alice, "ci")
    token.refresh_from_db()
    assert key.startswith(f"itom_{token.prefix}_")
    assert key not in str(APIToken.objects.filter(pk=token.pk).values().get())
    assert token.matches(key)
    assert not token.matches(key + "x")


def test_a_valid_key_reads_and_records_its_last_use(alice):
    token, key = services.create_api_token(alice, "ci")
    assert client_with(key).get("/api/v1/teams/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "mangle", [lambda k: k[:-1] + ("A" if k[-1] != "A" else "B"), lambda k: "itom_nope_x", str.upper]
)
def test_a_wrong_key_is_refused(alice, mangle):
    _, key = services.create_api_token(alice, "ci")
    assert client_with(mangle(key)).get("/api/v1/teams/").status_code == 401


def test_an_expired_or_revoked_token_is_refused(alice):
    expired, expired_key = services.create_api_token(alice, "old", expires_days=1)
    APIToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client_with(expired_key).get("/api/v1/teams/").status_code == 401
    revoked, revoked_key = services.create_api_token(alice, "gone")
    services.revoke_api_token(revoked)
    assert client_with(revoked_key).get("/api/v1/teams/").status_code == 401


def test_an_inactive_users_token_is_refused(alice):
    _, key = services.create_api_token(alice, "ci")
    alice.is_active = False
    alice.save()
    assert client_with(key).get("/api/v1/teams/").status_code == 401


def test_create_api_token_prints_the_key_as_its_last_line(maria, capsys):
    call_command("create_api_token", "maria", "--read-only", "--expires-days", "30")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    token = APIToken.objects.get(user=maria)
    assert token.matches(key)
    assert token.write_enabled is False
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    client = client_with(key)
    assert client.get("/api/v1/teams/").status_code == 200
    assert client.post("/api/v1/teams/", {"name": "X"}, format="json").status_code == 403


def test_create_api_token_refuses_unknown_users_and_bad_expiry(maria):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("create_api_token", "nobody")
    with pytest.raises(CommandError, match="expires_days"):
        call_command("create_api_token", "maria", "--expires-days", "0")
    assert not APIToken.objects.exists()


def test_the_tokens_page_shows_a_new_key_once_and_revokes(alice_client, alice):
    response = alice_client.post("/account/tokens/", {"name": "ansible", "expires_days": "7"})
    assert response.status_code == 200
    key = response.context["new_key"]
    assert key in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    token = APIToken.objects.get(user=alice)
    assert token.matches(key) and not token.write_enabled
    assert key not in alice_client.get("/account/tokens/").content.decode()
    assert alice_client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 302
    assert not APIToken.objects.filter(pk=token.pk).exists()


def test_a_user_cannot_revoke_someone_elses_token(alice_client, bob):
    token, _ = services.create_api_token(bob, "bobs")
    assert alice_client.post(f"/account/tokens/{token.pk}/revoke/").status_code == 404
    assert APIToken.objects.filter(pk=token.pk).exists()


def test_the_tokens_page_rejects_bad_input_with_the_field_named(alice_client, alice):
    response = alice_client.post("/account/tokens/", {"name": "", "expires_days": "-3"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"name", "expires_days"}
    assert not APIToken.objects.filter(user=alice).exists()
