"""Demo incidents, a problem and its known error for ``manage.py seed_demo``.

Runs after ``accounts.demo``, ``cmdb.demo`` and ``slas.demo`` (INSTALLED_APPS order), so the
people, teams, CIs and SLA policies exist. Every incident goes through
``incidents.services.incidents`` exactly as the desk would create and work it — so the SLA clocks,
the timeline and the audit trail are real. Idempotent: an incident is looked up by its title;
the ones that exist are left as they are.
"""

from django.contrib.auth import get_user_model

from accounts.models import Team
from cmdb.models import CI
from incidents.models import Category, Incident, KnownError, Problem
from incidents.services import incidents as desk
from incidents.services import problems

CATEGORIES = [
    ("Network", "Switching, routing, firewalls, load balancers, DNS."),
    ("Hardware", "Servers, storage, power."),
    ("Software", "Applications and their platforms."),
    ("Database", "Database engines and replication."),
    ("Access", "Accounts, passwords, permissions."),
]

# title, category, impact, urgency, team, assignee, CIs, the steps that bring it to its state
INCIDENTS = [
    (
        "Checkout page times out for some customers",
        "Software",
        1,
        1,
        "Platform Engineering",
        "pavel.platform",
        ["shop-web-01"],
        ["in_progress"],
    ),
    (
        "Payroll export fails with a database deadlock",
        "Database",
        2,
        2,
        "Database Administration",
        "dana.dba",
        ["payroll-db"],
        ["in_progress", "on_hold:awaiting_vendor"],
    ),
    (
        "Core switch reports a failed power supply",
        "Hardware",
        2,
        1,
        "Network Operations",
        "nina.network",
        ["core-sw-01"],
        [],
    ),
    ("VPN drops every 30 minutes for remote staff", "Network", 2, 2, "Network Operations", None, [], []),
    (
        "Printer on floor 3 shows offline",
        "Hardware",
        3,
        3,
        "Service Desk",
        "aaron.agent",
        [],
        ["in_progress", "resolved:solved"],
    ),
    (
        "Password reset e-mail not received",
        "Access",
        3,
        2,
        "Service Desk",
        "aaron.agent",
        [],
        ["in_progress", "resolved:user_error", "closed"],
    ),
    ("Duplicate: shop slow this morning", "Software", 3, 3, "Service Desk", None, [], ["canceled"]),
    (
        "Online shop search returns no results",
        "Software",
        2,
        1,
        "Platform Engineering",
        "pavel.platform",
        ["shop-web-01"],
        ["in_progress", "on_hold:awaiting_problem"],
    ),
]

PROBLEM_TITLE = "Shop web nodes exhaust worker threads under load"
KNOWN_ERROR_TITLE = "Shop web node stops answering after a traffic spike"


def _ci(name):
    return CI.objects.filter(name=name).first()


def seed(stdout):
    users = {u.username: u for u in get_user_model()._default_manager.filter(username__contains=".")}
    desk_agent = users.get("aaron.agent")
    teams = {t.name: t for t in Team.objects.all()}
    categories = {}
    for name, description in CATEGORIES:
        categories[name], _ = Category.objects.get_or_create(name=name, defaults={"description": description})

    made = 0
    for title, category, impact, urgency, team, assignee, ci_names, steps in INCIDENTS:
        if Incident.objects.filter(title=title).exists():
            continue
        incident = desk.create_incident(
            user=desk_agent,
            title=title,
            description=f"Reported to the service desk: {title.lower()}.",
            impact=impact,
            urgency=urgency,
            category=categories[category],
            caller_contact="Front office, ext. 4410",
            assignment_team=teams.get(team),
            assignee=users.get(assignee) if assignee else None,
            affected_cis=[ci for ci in (_ci(name) for name in ci_names) if ci is not None],
        )
        actor = users.get(assignee) or desk_agent
        for step in steps:
            state, _, detail = step.partition(":")
            if state == "on_hold":
                desk.transition(incident, state, user=actor, hold_reason=detail, note="Waiting on a third party.")
            elif state == "resolved":
                desk.transition(
                    incident, state, user=actor, resolution_code=detail, note="Fixed and confirmed with the caller."
                )
            elif state == "canceled":
                desk.transition(incident, state, user=actor, note="Raised twice; the other incident is kept.")
            else:
                desk.transition(incident, state, user=actor)
            incident.refresh_from_db()
        if steps and steps[0] == "in_progress":
            desk.add_comment(incident, user=actor, body="We are looking into it.", public=True)
            desk.add_comment(incident, user=actor, body="Logs collected; first lead found.", public=False)
        made += 1

    if not Problem.objects.filter(title=PROBLEM_TITLE).exists():
        linked = Incident.objects.filter(title__in=[INCIDENTS[0][0], INCIDENTS[7][0]]).values_list("id", flat=True)
        problem = problems.create_problem(
            user=users.get("pavel.platform"),
            title=PROBLEM_TITLE,
            description="Two incidents this month: the shop's web nodes stop answering under load.",
            priority=2,
            assignment_team=teams.get("Platform Engineering"),
            assignee=users.get("pavel.platform"),
            affected_cis=[ci for ci in (_ci("shop-web-01"),) if ci is not None],
            incidents=list(linked),
        )
        problems.transition_problem(problem, "assess", user=users.get("pavel.platform"))
        problem.refresh_from_db()
        problems.transition_problem(problem, "root_cause_analysis", user=users.get("pavel.platform"))
        problem.refresh_from_db()
        problems.update_problem(
            problem,
            user=users.get("pavel.platform"),
            root_cause="The worker pool is sized for average traffic; spikes queue requests until they time out.",
        )
        problems.post_workaround(
            problem, user=users.get("pavel.platform"), workaround="Restart the worker pool on the affected node."
        )
        problem.refresh_from_db()
        if not KnownError.objects.filter(title=KNOWN_ERROR_TITLE).exists():
            known_error = problems.known_error_from_problem(problem, user=users.get("pavel.platform"))
            problems.update_known_error(known_error, user=users.get("pavel.platform"), title=KNOWN_ERROR_TITLE)
    stdout.write(f"Incidents: {made} created, {Incident.objects.count()} in all; problems and known errors in place.")
