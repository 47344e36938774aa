"""Base fixtures: distinct people for permission tests (STYLE.md).

- alice: agent, member (and lead) of the Network team that owns things
- bob: agent of another team (Database)
- victor: viewer (read-only)
- maria: manager
- root: superuser
- anon: an anonymous client
Each person has a ``<name>_api`` DRF client signed in with a read-write API token, and
``<name>_client`` a browser-session Django client.
"""

import pytest
from rest_framework.test import APIClient

from accounts import services
from itom.roles import AGENT, MANAGER, VIEWER
from tests.factories import TeamFactory, UserFactory


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", roles=[AGENT])


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", roles=[AGENT])


@pytest.fixture
def victor(db):
    return UserFactory(username="victor", roles=[VIEWER])


@pytest.fixture
def maria(db):
    return UserFactory(username="maria", roles=[MANAGER])


@pytest.fixture
def root(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def network_team(alice):
    return TeamFactory(name="Network", lead=alice, members=[alice])


@pytest.fixture
def database_team(bob):
    return TeamFactory(name="Database", lead=bob, members=[bob])


def token_client(user, write=True):
    _, key = services.create_api_token(user, "test", write_enabled=write)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    client.user = user
    return client


@pytest.fixture
def make_api_client(db):
    """``make_api_client(user, write=True)``: an API client authenticated with a fresh token."""
    return token_client


@pytest.fixture
def anon():
    return APIClient()


@pytest.fixture
def people(alice, bob, victor, maria, root):
    return {"alice": alice, "bob": bob, "victor": victor, "maria": maria, "root": root}


@pytest.fixture
def maria_api(maria):
    return token_client(maria)


@pytest.fixture
def alice_api(alice):
    return token_client(alice)


@pytest.fixture
def victor_api(victor):
    return token_client(victor)


@pytest.fixture
def maria_client(client, maria):
    client.force_login(maria)
    return client


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash test passwords cheaply; production keeps Django's default (PBKDF2)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
