"""``/api/v1/changes/{id}/risk/``, ``…/override-risk/`` and ``/api/v1/changes/risk-questions/``:
the risk explained with the questionnaire, answering it, a manager's override with a reason, and
managers editing the questionnaire (an answered option or question is kept)."""

import pytest

from changes.api.configuration import RiskQuestionViewSet
from changes.models import RiskOption, RiskQuestion
from tests.api_testing import APIEndpointTests
from tests.changes.api_helpers import lowest_answers, url
from tests.conftest import token_client
from tests.factories import CIFactory, ci_class, new_change

pytestmark = pytest.mark.django_db

QUESTIONS = "/api/v1/changes/risk-questions/"


def _question():
    question = RiskQuestion.objects.create(text=f"Question {RiskQuestion.objects.count() + 1}?", active=False)
    RiskOption.objects.create(question=question, label="No", score=0)
    return question


def highest_answers():
    return [q.options.order_by("-score").first().pk for q in RiskQuestion.objects.filter(active=True)]


class TestRiskQuestionAPI(APIEndpointTests):
    viewset = RiskQuestionViewSet
    url_name = "api:change-risk-question"
    make_object = staticmethod(_question)
    create_data = {
        "text": "Does the change touch customer data?",
        "options": [{"label": "No", "score": 0}, {"label": "Yes", "score": 4}],
    }
    update_data = {"help_text": "Personal data, payment data, contracts."}
    invalid_data = {"options": []}


# --- a change's risk --------------------------------------------------------------------------


def test_the_risk_is_explained_with_its_factors_and_the_answers_given(alice):
    server = CIFactory(name="db-01", ci_class=ci_class("linux-server"), criticality=1, environment="production")
    change = new_change(alice, affected_cis=[server], risk_answers=highest_answers())
    body = token_client(alice).get(url(change, "risk")).json()
    assert body["score"] == change.risk_score and body["level"] == change.risk_level == body["effective"]
    labels = {f["factor"]: f["label"] for f in body["factors"]}
    assert "db-01" in labels["criticality"]
    questions = body["questions"]
    assert len(questions) == RiskQuestion.objects.filter(active=True).count()
    assert all(q["answer"] == max(q["options"], key=lambda o: o["score"])["id"] for q in questions)


def test_answering_the_questionnaire_reassesses_the_risk(alice):
    change = new_change(alice, risk_answers=lowest_answers())
    client = token_client(alice)
    low = client.get(url(change, "risk")).json()
    response = client.post(url(change, "risk"), {"answers": highest_answers()}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["score"] > low["score"]
    change.refresh_from_db()
    assert change.risk_score == response.json()["score"]


def test_an_unknown_option_is_a_400_naming_the_answers(alice):
    change = new_change(alice)
    response = token_client(alice).post(url(change, "risk"), {"answers": [999999]}, format="json")
    assert response.status_code == 400
    assert "answers" in response.json() or "risk_answers" in response.json()


def test_a_viewer_reads_the_risk_but_cannot_answer(alice, victor):
    change = new_change(alice)
    client = token_client(victor)
    assert client.get(url(change, "risk")).status_code == 200
    assert client.post(url(change, "risk"), {"answers": lowest_answers()}, format="json").status_code == 403


def test_a_manager_overrides_the_risk_with_a_reason_and_an_agent_cannot(alice, maria):
    change = new_change(alice)
    response = token_client(alice).post(url(change, "override-risk"), {"level": "high", "reason": "x"}, format="json")
    assert response.status_code == 403
    response = token_client(maria).post(url(change, "override-risk"), {"level": "high"}, format="json")
    assert response.status_code == 400
    assert "reason" in response.json()
    response = token_client(maria).post(
        url(change, "override-risk"), {"level": "high", "reason": "Touches the payment path."}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["override"], body["effective"], body["overridden_by"]["username"]) == ("high", "high", "maria")
    assert body["level"] == "low"  # the computed level is kept
    cleared = token_client(maria).post(url(change, "override-risk"), {"level": ""}, format="json").json()
    assert (cleared["override"], cleared["effective"]) == ("", "low")


# --- the questionnaire ------------------------------------------------------------------------


def test_options_are_changed_added_and_removed_in_one_write(maria):
    question = _question()
    keep = question.options.get()
    response = token_client(maria).patch(
        f"{QUESTIONS}{question.pk}/",
        {"options": [{"id": keep.pk, "label": "No, never", "score": 0}, {"label": "Yes", "score": 3}]},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert [(o["id"] == keep.pk, o["label"], o["score"]) for o in response.json()["options"]] == [
        (True, "No, never", 0),
        (False, "Yes", 3),
    ]


def test_an_option_a_change_chose_is_not_removed(alice, maria):
    change = new_change(alice, risk_answers=lowest_answers())
    question = RiskQuestion.objects.filter(active=True).first()
    chosen = change.risk_answers.get(question=question)
    others = [{"id": o.pk, "label": o.label, "score": o.score} for o in question.options.exclude(pk=chosen.pk)]
    response = token_client(maria).patch(f"{QUESTIONS}{question.pk}/", {"options": others}, format="json")
    assert response.status_code == 400
    assert chosen.label in response.json()["options"][0]
    assert question.options.filter(pk=chosen.pk).exists()


def test_an_answered_question_is_retired_not_deleted(alice, maria):
    new_change(alice, risk_answers=lowest_answers())
    question = RiskQuestion.objects.filter(active=True).first()
    client = token_client(maria)
    assert client.delete(f"{QUESTIONS}{question.pk}/").status_code == 409
    response = client.patch(f"{QUESTIONS}{question.pk}/", {"active": False}, format="json")
    assert response.status_code == 200
    assert RiskQuestion.objects.filter(pk=question.pk, active=False).exists()


def test_agents_cannot_edit_the_questionnaire(alice, nina):
    question = RiskQuestion.objects.filter(active=True).first()
    for user in (alice, nina):
        response = token_client(user).patch(f"{QUESTIONS}{question.pk}/", {"text": "Changed?"}, format="json")
        assert response.status_code == 403
    question.refresh_from_db()
    assert question.text != "Changed?"
