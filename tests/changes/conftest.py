"""People and teams of the change tests, on top of tests/conftest.py's alice, bob (agents),
victor (viewer) and maria (manager):

- ``cab``: the seeded "Change Advisory Board" team with two approvers, carol and dave;
- ``ecab``: the seeded "Emergency CAB" team with one approver, erin;
- ``network_team``: alice (lead) and the approver nina, for technical reviews.
"""

import pytest

from accounts.models import Team
from itom.roles import AGENT, APPROVER
from tests.factories import UserFactory


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", roles=[APPROVER])


@pytest.fixture
def dave(db):
    return UserFactory(username="dave", roles=[APPROVER])


@pytest.fixture
def erin(db):
    return UserFactory(username="erin", roles=[APPROVER])


@pytest.fixture
def nina(db):
    return UserFactory(username="nina", roles=[APPROVER])


@pytest.fixture
def cab(carol, dave):
    team = Team.objects.get(name="Change Advisory Board")
    team.members.add(carol, dave)
    return team


@pytest.fixture
def ecab(erin):
    team = Team.objects.get(name="Emergency CAB")
    team.members.add(erin)
    return team


@pytest.fixture
def network_team(alice, nina):
    from tests.factories import TeamFactory

    return TeamFactory(name="Network", lead=alice, members=[alice, nina])


@pytest.fixture
def plain_agent(db):
    """An agent who approves nothing."""
    return UserFactory(username="paul", roles=[AGENT])
