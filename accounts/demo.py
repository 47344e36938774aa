"""Demo people and teams for ``manage.py seed_demo``. Demo users have no password until an
administrator sets one (Admin › Users)."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import Team
from itom.roles import AGENT, APPROVER, MANAGER, VIEWER

PEOPLE = [
    # username, first, last, role, teams
    ("mia.manager", "Mia", "Moreau", MANAGER, ["Service Desk"]),
    ("aaron.agent", "Aaron", "Adeyemi", AGENT, ["Service Desk"]),
    ("nina.network", "Nina", "Novak", AGENT, ["Network Operations"]),
    ("pavel.platform", "Pavel", "Petrov", AGENT, ["Platform Engineering"]),
    ("dana.dba", "Dana", "Dubois", APPROVER, ["Database Administration", "Platform Engineering"]),
    ("victor.viewer", "Victor", "Vance", VIEWER, []),
]

TEAMS = [
    ("Service Desk", "servicedesk@example.com", "First line: takes calls, triages incidents.", "aaron.agent"),
    ("Network Operations", "netops@example.com", "Switches, routers, firewalls and load balancers.", "nina.network"),
    ("Platform Engineering", "platform@example.com", "Linux and Windows servers, virtualisation.", "pavel.platform"),
    ("Database Administration", "dba@example.com", "PostgreSQL, MySQL and Oracle estates.", "dana.dba"),
]


def seed(stdout):
    users = get_user_model()._default_manager
    people = {}
    for username, first, last, role, _ in PEOPLE:
        user, created = users.get_or_create(
            username=username,
            defaults={"first_name": first, "last_name": last, "email": f"{username}@example.com"},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=role))
        people[username] = user
    for name, email, description, lead in TEAMS:
        team, _ = Team.objects.get_or_create(
            name=name, defaults={"email": email, "description": description, "lead": people[lead]}
        )
        team.members.add(*[people[u] for u, *_, teams in PEOPLE if name in teams])
    stdout.write(f"  accounts: {len(PEOPLE)} people, {len(TEAMS)} teams")
