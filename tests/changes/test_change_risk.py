"""A change's risk (``changes.risk``): the four factors, the level bounds, the standard change's
template level; answering the questionnaire and a manager's override
(``changes.services.changes``)."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from changes import risk
from changes.choices import ChangeState, ChangeTimelineKind, ChangeType
from changes.models import ChangeRequest, ChangeTimelineEntry, RiskOption, RiskQuestion
from changes.services import changes as services
from cmdb.choices import Criticality
from itom.api.exceptions import Conflict
from itom.models import ObjectChange
from tests.changes.journeys import Cast, change_in
from tests.factories import CIFactory, TemplateFactory, ci_class, link

pytestmark = pytest.mark.django_db

S, T = ChangeState, ChangeType
# The zero-point answers of the first four seeded questions.
QUIET_ANSWERS = [(1, "Yes, several times"), (2, "Yes, within minutes"), (3, "No"), (4, "Yes, fully")]


@pytest.fixture
def cast(alice, network_team, nina, ecab, erin):
    return Cast(requester=alice, team=network_team, approvers={T.NORMAL: nina, T.EMERGENCY: erin})


def factor(change_or_assessment, name):
    factors = getattr(change_or_assessment, "factors", None) or change_or_assessment.risk_factors
    return next(f for f in factors if f["factor"] == name)


def option(question_order, label):
    return RiskOption.objects.get(question__order=question_order, label=label)


def services_depending_on(ci, count):
    for n in range(count):
        link(CIFactory(name=f"Service {n:02d}", ci_class=ci_class("business-service")), ci)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0, "low"),
        (7, "low"),
        (8, "moderate"),
        (15, "moderate"),
        (16, "high"),
        (23, "high"),
        (24, "very_high"),
        (40, "very_high"),
    ],
)
def test_the_score_falls_in_its_level(score, level):
    assert risk.level_for(score) == level


def test_a_change_with_nothing_to_weigh_is_low_and_each_factor_says_why(alice):
    change = services.create_change(user=alice, title="Tidy the wiki")
    assessment = risk.assess(change)
    assert (assessment.score, assessment.level) == (0, "low")
    assert [(f["factor"], f["points"]) for f in assessment.factors] == [
        ("questionnaire", 0),
        ("criticality", 0),
        ("environment", 0),
        ("services", 0),
    ]
    assert factor(assessment, "questionnaire")["label"] == "The risk questionnaire is not answered yet."
    assert factor(assessment, "services")["label"] == "No business service impacted."


@pytest.mark.parametrize(("criticality", "points"), [(1, 6), (2, 4), (3, 2), (4, 0)])
def test_the_most_critical_affected_ci_adds_its_points_and_is_named(alice, criticality, points):
    worst = CIFactory(name="db01", criticality=criticality, environment="test")
    mild = CIFactory(name="app01", criticality=4, environment="test")
    change = services.create_change(user=alice, title="Patch", affected_cis=[mild, worst])
    found = factor(change, "criticality")
    assert found["points"] == points
    named = "db01" if criticality < 4 else "app01"  # a tie names the first by name
    assert found["label"] == f"Most critical CI: {named} ({Criticality(criticality).label})"


def test_the_criticality_label_reads_as_a_sentence(alice):
    change = services.create_change(user=alice, title="Patch", affected_cis=[CIFactory(name="db01", criticality=1)])
    assert factor(change, "criticality")["label"] == "Most critical CI: db01 (1 – Critical)"


@pytest.mark.parametrize(
    ("environments", "points", "named"),
    [
        (["test", "production"], 4, "Production"),
        (["staging", "disaster_recovery"], 3, "Disaster recovery"),
        (["development", "staging"], 1, "Staging"),
        (["test", "development"], 0, None),
    ],
)
def test_the_most_exposed_environment_adds_its_points(alice, environments, points, named):
    cis = [CIFactory(criticality=4, environment=environment) for environment in environments]
    change = services.create_change(user=alice, title="Patch", affected_cis=cis)
    found = factor(change, "environment")
    assert found["points"] == points
    if named:
        assert f"Most exposed environment: {named}" in found["label"]


@pytest.mark.parametrize(("count", "points"), [(1, 2), (3, 6), (5, 10), (7, 10)])
def test_each_impacted_business_service_adds_two_points_up_to_ten(alice, count, points):
    server = CIFactory(name="srv01", criticality=4, environment="test")
    services_depending_on(server, count)
    change = services.create_change(user=alice, title="Reboot srv01", affected_cis=[server])
    found = factor(change, "services")
    assert found["points"] == points
    assert found["label"].startswith(f"{count} business service")
    assert ("capped at 10" in found["label"]) == (count > 5)


def test_the_questionnaire_adds_the_points_of_the_answers_chosen(alice):
    answers = [option(1, "Never"), option(2, "Within an hour"), option(3, "No")]
    change = services.create_change(user=alice, title="New kind of change", risk_answers=answers)
    found = factor(change, "questionnaire")
    assert found["points"] == 4 + 2 + 0
    assert "“Never” (+4)" in found["label"] and "“Within an hour” (+2)" in found["label"]


def test_the_factors_add_up_to_the_level(alice):
    db = CIFactory(name="db01", criticality=1, environment="production")
    services_depending_on(db, 2)
    answers = [option(1, "Never"), option(2, "Only with difficulty, or not at all"), option(3, "A full outage")]
    change = services.create_change(user=alice, title="Migrate db01", affected_cis=[db], risk_answers=answers)
    change.refresh_from_db()
    # questionnaire 4 + 5 + 5, criticality 6, production 4, two services 4
    assert (change.risk_score, change.risk_level) == (28, "very_high")
    assert sum(f["points"] for f in change.risk_factors) == 28


def test_apply_stores_the_assessment(alice):
    change = services.create_change(user=alice, title="Patch")
    change.affected_cis.add(CIFactory(criticality=1, environment="production"))
    assessment = risk.apply(change)
    change = ChangeRequest.objects.get(pk=change.pk)
    assert (change.risk_score, change.risk_level, change.risk_factors) == (10, "moderate", assessment.factors)


def test_a_standard_change_takes_its_templates_level_and_says_so(alice):
    db = CIFactory(name="db01", criticality=1, environment="production")
    change = services.create_change(
        user=alice, title="Patch", template=TemplateFactory(risk_level="moderate"), affected_cis=[db]
    )
    assert (change.risk_score, change.risk_level) == (10, "moderate")
    low = services.create_change(
        user=alice, title="Patch", template=TemplateFactory(risk_level="low"), affected_cis=[db]
    )
    assert low.risk_level == "low"
    assert "level is that of its template" in factor(low, "template")["label"]


# --- the questionnaire ------------------------------------------------------------------------


def test_answering_the_questionnaire_reassesses_the_risk_and_says_so(cast):
    change = change_in(S.NEW, cast, T.NORMAL, risk_answers=[])
    answers = [option(1, "Never"), option(4, "No")]
    change = services.set_risk_answers(change, user=cast.requester, option_ids=[a.pk for a in answers])
    assert set(change.risk_answers.all()) == set(answers)
    assert (change.risk_score, change.risk_level) == (8, "moderate")
    line = change.timeline.filter(kind=ChangeTimelineKind.RISK).get()
    assert "2 of 5 questions" in line.body
    assert (line.data["from_level"], line.data["to_level"]) == ("low", "moderate")


def test_new_answers_replace_the_previous_ones(cast):
    change = change_in(S.NEW, cast, T.NORMAL, risk_answers=[option(1, "Never")])
    change = services.set_risk_answers(change, user=cast.requester, option_ids=[option(1, "Yes, several times").pk])
    assert list(change.risk_answers.values_list("label", flat=True)) == ["Yes, several times"]
    assert change.risk_score == 0


@pytest.mark.parametrize("problem", ["unknown", "twice", "retired"])
def test_bad_answers_are_refused_and_nothing_is_written(cast, problem):
    change = change_in(S.NEW, cast, T.NORMAL, risk_answers=[])
    if problem == "unknown":
        ids = [999_999]
    elif problem == "twice":
        ids = list(RiskOption.objects.filter(question__order=2).values_list("pk", flat=True)[:2])
    else:
        RiskQuestion.objects.filter(order=3).update(active=False)
        ids = [option(3, "No").pk]
    before = (ChangeTimelineEntry.objects.count(), ObjectChange.objects.count())
    with pytest.raises(ValidationError) as caught:
        services.set_risk_answers(change, user=cast.requester, option_ids=ids)
    assert list(caught.value.message_dict) == ["risk_answers"]
    assert (ChangeTimelineEntry.objects.count(), ObjectChange.objects.count()) == before
    assert change.risk_answers.count() == 0


def test_a_retired_question_is_no_longer_required_before_approval(cast):
    RiskQuestion.objects.filter(order=5).update(active=False)
    change = change_in(S.ASSESS, cast, T.NORMAL, risk_answers=[])
    services.set_risk_answers(
        change, user=cast.requester, option_ids=[option(order, label).pk for order, label in QUIET_ANSWERS]
    )
    assert services.transition(change, S.AUTHORIZE, user=cast.requester).state == S.AUTHORIZE


def test_the_questionnaire_is_closed_once_approval_was_asked(cast):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    with pytest.raises(Conflict) as caught:
        services.set_risk_answers(change, user=cast.requester, option_ids=[option(1, "Never").pk])
    assert "new or in assess" in str(caught.value.detail)


# --- the manager's override -------------------------------------------------------------------


def test_a_manager_overrides_the_risk_with_a_reason_and_it_is_audited(cast, maria):
    change = change_in(S.ASSESS, cast, T.NORMAL)
    change = services.override_risk(change, user=maria, level="high", reason="The vendor's patch is new.")
    assert (change.risk_level, change.risk_override, change.effective_risk) == ("low", "high", "high")
    assert (change.risk_override_reason, change.risk_overridden_by) == ("The vendor's patch is new.", maria)
    line = change.timeline.filter(kind=ChangeTimelineKind.RISK).get()
    assert "overridden: high (computed: low)" in line.body and line.author == maria
    audit = ObjectChange.objects.filter(object_id=str(change.pk), postchange_data__risk_override="high").get()
    assert audit.prechange_data["risk_override"] == ""
    assert audit.postchange_data["risk_override_reason"] == "The vendor's patch is new."


def test_the_override_decides_the_approval_policy(cast, maria):
    change = change_in(S.ASSESS, cast, T.NORMAL)
    services.override_risk(change, user=maria, level="very_high", reason="Touches every site at once.")
    change = services.transition(change, S.AUTHORIZE, user=cast.requester)
    assert change.approval_stages.order_by("order").first().name == "CAB"


def test_clearing_the_override_brings_back_the_computed_level(cast, maria):
    change = change_in(S.NEW, cast, T.NORMAL)
    services.override_risk(change, user=maria, level="high", reason="Unclear scope.")
    change = services.override_risk(change, user=maria, level="", reason="")
    assert (change.risk_override, change.risk_override_reason, change.effective_risk) == ("", "", "low")
    assert "override removed" in change.timeline.filter(kind=ChangeTimelineKind.RISK).last().body


def test_only_managers_override_the_risk(cast, nina):
    change = change_in(S.NEW, cast, T.NORMAL)
    for person in (cast.requester, nina):
        with pytest.raises(PermissionDenied):
            services.override_risk(change, user=person, level="high", reason="I think so.")
    change.refresh_from_db()
    assert change.risk_override == ""


@pytest.mark.parametrize(("level", "reason", "field"), [("extreme", "Why not.", "level"), ("high", "  ", "reason")])
def test_an_override_needs_a_known_level_and_a_reason(cast, maria, level, reason, field):
    change = change_in(S.NEW, cast, T.NORMAL)
    with pytest.raises(ValidationError) as caught:
        services.override_risk(change, user=maria, level=level, reason=reason)
    assert list(caught.value.message_dict) == [field]


def test_the_risk_is_no_longer_overridden_once_approval_was_asked(cast, maria):
    change = change_in(S.AUTHORIZE, cast, T.NORMAL)
    with pytest.raises(Conflict):
        services.override_risk(change, user=maria, level="low", reason="Fine.")
