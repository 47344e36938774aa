"""Demo changes for ``manage.py seed_demo``: standard-change templates, a blackout window, and
changes in every state, one of them requested from an incident and awaiting the emergency CAB.

Runs after the incidents demo (INSTALLED_APPS order). Every change goes through the services as
people would work it — approvals by eligible approvers included — so the timelines, approval
rounds and audit trail are real. Idempotent: a change, template or window is looked up by its
title or name; those that exist are left as they are. Times are relative to now, so the
calendar always has something this week.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Team
from changes.models import BlackoutWindow, ChangeRequest, RiskQuestion, StandardChangeTemplate
from changes.services import approvals, templates
from changes.services import changes as desk
from cmdb.models import CI
from incidents.models import Category, Incident

TEMPLATES = [
    (
        "restart-k8s-deployment",
        "Restart a Kubernetes deployment",
        "Platform Engineering",
        "kubectl rollout restart deployment/<name> -n <namespace>; watch the rollout finish.",
        "kubectl rollout undo deployment/<name> -n <namespace>.",
        True,
    ),
    (
        "rotate-tls-certificate",
        "Rotate a TLS certificate on a load balancer",
        "Network Operations",
        "Upload the new certificate and key, switch the virtual server's profile, check the chain.",
        "Switch the profile back to the previous certificate.",
        True,
    ),
    (
        "add-disk-to-array",
        "Add a disk shelf to a storage array",
        "Platform Engineering",
        "Cable the shelf, assign the disks to the aggregate, grow the aggregate.",
        "Leave the disks as spares; nothing to undo on the aggregate before it grows.",
        True,
    ),
    (
        "update-firewall-rule",
        "Open a port on the perimeter firewall",
        "Network Operations",
        "Add the rule to the policy above the default deny, commit, test from outside.",
        "Delete the rule and commit.",
        False,  # a draft awaiting a manager's approval
    ),
]

PSU_INCIDENT = "Core switch reports a failed power supply"


def _ci(*names):
    return list(CI.objects.filter(name__in=names))


def _answer_all(change, user, pick):
    """Answer every active risk question with its option number ``pick`` (0 = the safest)."""
    options = []
    for question in RiskQuestion.objects.filter(active=True).prefetch_related("options"):
        choices = list(question.options.all())
        if choices:
            options.append(choices[min(pick, len(choices) - 1)].pk)
    desk.set_risk_answers(change, user=user, option_ids=options)


def _approve_all(change):
    """Approve each stage with as many eligible approvers as it needs."""
    for _ in range(10):
        change.refresh_from_db()
        stage = approvals.current_stage(change)
        if stage is None:
            return
        for approver in list(approvals.eligible_approvers(stage, change))[: stage.required_approvals]:
            approvals.decide(change, user=approver, decision="approved", comment="Plans reviewed; go ahead.")


def _move(change, user, *states, **details):
    for state in states:
        change.refresh_from_db()
        desk.transition(change, state, user=user, **details.get(state, {}))


def seed(stdout):
    users = {u.username: u for u in get_user_model()._default_manager.filter(username__contains=".")}
    teams = {t.name: t for t in Team.objects.all()}
    manager, pavel, nina, dana = (users.get(n) for n in ("mia.manager", "pavel.platform", "nina.network", "dana.dba"))
    if None in (manager, pavel, nina, dana):
        stdout.write("Changes: skipped (the demo people are missing).")
        return
    # The boards: the DBA (an approver) and the manager sit on the CAB; the manager on the ECAB.
    for board in ("Change Advisory Board", "Emergency CAB"):
        if board in teams:
            teams[board].members.add(manager, *([dana] if board == "Change Advisory Board" else []))

    made_templates = {}
    for key, name, team, plan, backout, approved in TEMPLATES:
        template = StandardChangeTemplate.objects.filter(key=key).order_by("-version").first()
        if template is None:
            template = templates.create_template(
                user=pavel,
                key=key,
                name=name,
                description=f"Pre-approved: {name.lower()}.",
                assignment_team=teams.get(team),
                implementation_plan=plan,
                backout_plan=backout,
                test_plan="Check the service's health page and its monitoring.",
            )
            if approved:
                template = templates.approve_template(template, user=manager)
        made_templates[key] = template

    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    if not BlackoutWindow.objects.filter(name="Quarter-end freeze").exists():
        BlackoutWindow.objects.create(
            name="Quarter-end freeze",
            start=now + timedelta(days=21),
            end=now + timedelta(days=26),
            reason="Finance closes the quarter: no changes to production.",
            environment="production",
        )
    payroll = CI.objects.filter(name="Payroll").first()
    if payroll is not None and not BlackoutWindow.objects.filter(name="Payroll run").exists():
        window = BlackoutWindow.objects.create(
            name="Payroll run",
            start=now + timedelta(days=4),
            end=now + timedelta(days=5),
            reason="Salaries are computed and paid.",
        )
        window.business_services.add(payroll)

    database = Category.objects.filter(name="Database").first()
    made = 0

    def new(title, **fields):
        nonlocal made
        made += 1
        return desk.create_change(user=fields.pop("user", pavel), title=title, **fields)

    plans = {
        "implementation_plan": "1. Announce. 2. Drain one node at a time. 3. Apply. 4. Undrain and check.",
        "backout_plan": "Restore the previous package from the local cache and restart.",
        "test_plan": "Synthetic checkout on each node, then the monitoring dashboard.",
    }

    title = "Decommission the old Windows file server"
    if not ChangeRequest.objects.filter(title=title).exists():
        new(
            title,
            description="win-old-01 is out of warranty and empty.",
            assignment_team=teams.get("Platform Engineering"),
        )

    title = "Upgrade PostgreSQL on the shop cluster to 16.4"
    if not ChangeRequest.objects.filter(title=title).exists():
        change = new(
            title,
            category=database,
            justification="16.2 is out of security support.",
            assignment_team=teams.get("Database Administration"),
            assignee=dana,
            affected_cis=_ci("pg-01", "pg-02"),
            planned_start=now + timedelta(days=9, hours=2),
            planned_end=now + timedelta(days=9, hours=5),
            **plans,
        )
        _move(change, pavel, "assess")
        _answer_all(change, pavel, 1)

    title = "Patch OpenSSL on the shop web nodes"
    if not ChangeRequest.objects.filter(title=title).exists():
        change = new(
            title,
            justification="CVE fixed upstream; the nodes run the vulnerable version.",
            assignment_team=teams.get("Platform Engineering"),
            assignee=pavel,
            user=nina,
            affected_cis=_ci("shop-web-01", "shop-web-02"),
            planned_start=now + timedelta(days=2, hours=20),
            planned_end=now + timedelta(days=2, hours=22),
            **plans,
        )
        _move(change, pavel, "assess")
        _answer_all(change, pavel, 0)
        _move(change, pavel, "authorize")
        _approve_all(change)

    incident = Incident.objects.filter(title=PSU_INCIDENT).first()
    if incident is not None and not ChangeRequest.objects.filter(incidents=incident).exists():
        made += 1
        change = desk.request_change_for_incident(
            incident,
            user=nina,
            planned_start=now + timedelta(hours=6),
            planned_end=now + timedelta(hours=7),
            implementation_plan="Hot-swap the failed power supply; the switch stays up on the other one.",
            backout_plan="Put the old supply back; the switch runs on one supply meanwhile.",
        )
        _move(change, nina, "authorize")  # awaits the emergency CAB

    title = "Rotate the TLS certificate on lb-01"
    if not ChangeRequest.objects.filter(title=title).exists() and made_templates["rotate-tls-certificate"]:
        change = new(
            title,
            user=nina,
            type="standard",
            template=made_templates["rotate-tls-certificate"],
            assignee=nina,
            affected_cis=_ci("lb-01"),
            planned_start=now - timedelta(hours=1),
            planned_end=now + timedelta(hours=2),
        )
        _move(change, nina, "scheduled", "implement")  # its CIs are under maintenance now

    title = "Hotfix for checkout-api connection leak"
    if not ChangeRequest.objects.filter(title=title).exists():
        change = new(
            title,
            type="emergency",
            justification="Checkout fails for a third of customers.",
            assignment_team=teams.get("Platform Engineering"),
            assignee=pavel,
            user=nina,
            affected_cis=_ci("checkout-api"),
            planned_start=now - timedelta(days=1, hours=3),
            planned_end=now - timedelta(days=1, hours=2),
            **plans,
        )
        _move(change, pavel, "authorize")
        _approve_all(change)
        _move(change, pavel, "implement", "review", review={"close_code": "successful", "close_notes": "Leak gone."})

    title = "Add a disk shelf to stor-01"
    if not ChangeRequest.objects.filter(title=title).exists() and made_templates["add-disk-to-array"]:
        change = new(
            title,
            type="standard",
            template=made_templates["add-disk-to-array"],
            assignee=pavel,
            affected_cis=_ci("stor-01"),
            planned_start=now - timedelta(days=6, hours=4),
            planned_end=now - timedelta(days=6, hours=2),
        )
        _move(change, pavel, "scheduled", "implement", "closed", closed={"close_code": "successful"})

    title = "Move payroll-db to the new storage array"
    if not ChangeRequest.objects.filter(title=title).exists():
        change = new(
            title,
            category=database,
            assignment_team=teams.get("Database Administration"),
            affected_cis=_ci("payroll-db"),
            **plans,
        )
        _move(change, dana, "canceled", canceled={"note": "Postponed to next year's budget."})

    stdout.write(f"Changes: {made} created, {ChangeRequest.objects.count()} in all; templates and blackouts in place.")
