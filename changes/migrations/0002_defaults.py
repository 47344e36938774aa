"""The starting risk questionnaire, the change advisory boards and the approval policies.

All of it is data managers edit afterwards (admin, API); the migration only seeds it, and
``reverse`` removes only what it created untouched.
"""

from django.db import migrations

QUESTIONS = [
    (
        "Has this change been carried out successfully before?",
        [("Yes, several times", 0), ("Once, or only in a test environment", 2), ("Never", 4)],
    ),
    (
        "Can the change be backed out quickly?",
        [("Yes, within minutes", 0), ("Within an hour", 2), ("Only with difficulty, or not at all", 5)],
    ),
    (
        "Is a service outage expected while it is implemented?",
        [("No", 0), ("Degraded service", 3), ("A full outage", 5)],
    ),
    (
        "Has the change been tested outside production?",
        [("Yes, fully", 0), ("Partly", 2), ("No", 4)],
    ),
    (
        "How many users will notice it?",
        [("None, or a few", 0), ("One department", 2), ("The whole organisation", 4)],
    ),
]
CAB = "Change Advisory Board"
ECAB = "Emergency CAB"
# (name, type, risk level, [(stage name, approver kind, team name, approvals needed, is CAB)])
POLICIES = [
    ("Normal change, low risk", "normal", "low", [("Technical review", "assignment_team", None, 1, False)]),
    (
        "Normal change, moderate risk",
        "normal",
        "moderate",
        [("Technical review", "assignment_team", None, 1, False), ("CAB", "team", CAB, 1, True)],
    ),
    (
        "Normal change, high risk",
        "normal",
        "high",
        [("Technical review", "assignment_team", None, 1, False), ("CAB", "team", CAB, 2, True)],
    ),
    (
        "Normal change, very high risk",
        "normal",
        "very_high",
        [("CAB", "team", CAB, 2, True), ("Manager sign-off", "managers", None, 1, False)],
    ),
    ("Emergency change", "emergency", "", [("Emergency CAB", "team", ECAB, 1, True)]),
]


def seed(apps, schema_editor):
    Team = apps.get_model("accounts", "Team")
    RiskQuestion = apps.get_model("changes", "RiskQuestion")
    RiskOption = apps.get_model("changes", "RiskOption")
    ApprovalPolicy = apps.get_model("changes", "ApprovalPolicy")
    ApprovalPolicyStage = apps.get_model("changes", "ApprovalPolicyStage")

    if not RiskQuestion.objects.exists():
        for order, (text, options) in enumerate(QUESTIONS, start=1):
            question = RiskQuestion.objects.create(text=text, order=order)
            for position, (label, score) in enumerate(options, start=1):
                RiskOption.objects.create(question=question, label=label, score=score, order=position)

    teams = {
        CAB: Team.objects.get_or_create(
            name=CAB, defaults={"description": "Authorises normal changes of moderate risk and above."}
        )[0],
        ECAB: Team.objects.get_or_create(name=ECAB, defaults={"description": "Authorises emergency changes."})[0],
    }
    if not ApprovalPolicy.objects.exists():
        for name, change_type, risk_level, stages in POLICIES:
            policy = ApprovalPolicy.objects.create(name=name, change_type=change_type, risk_level=risk_level)
            for order, (stage, kind, team, required, is_cab) in enumerate(stages, start=1):
                ApprovalPolicyStage.objects.create(
                    policy=policy,
                    order=order,
                    name=stage,
                    approver_kind=kind,
                    approver_team=teams[team] if team else None,
                    required_approvals=required,
                    is_cab=is_cab,
                )


def unseed(apps, schema_editor):
    apps.get_model("changes", "ApprovalPolicy").objects.filter(name__in=[p[0] for p in POLICIES]).delete()
    apps.get_model("changes", "RiskQuestion").objects.filter(text__in=[q[0] for q in QUESTIONS]).delete()


class Migration(migrations.Migration):
    dependencies = [("changes", "0001_initial"), ("accounts", "0002_roles")]

    operations = [migrations.RunPython(seed, unseed)]
