"""``/api/v1/known-errors/``: the generic endpoint tests, word search over title, symptom, root
cause and workaround, the ``ci``/``active``/``problem`` filters, bad input and the list's cost."""

import pytest

from incidents.api.problems import KnownErrorViewSet
from incidents.models import KnownError
from incidents.services import problems as services
from tests.api_testing import APIEndpointTests
from tests.factories import CIFactory, KnownErrorFactory, ProblemFactory

pytestmark = pytest.mark.django_db

KNOWN_ERRORS = "/api/v1/known-errors/"


class TestKnownErrorAPI(APIEndpointTests):
    viewset = KnownErrorViewSet
    url_name = "api:known-error"
    make_object = staticmethod(lambda: KnownErrorFactory())
    create_data = {"title": "502 after deploy", "symptom": "The shop answers 502 for a minute after a deploy."}
    update_data = {"workaround": "Deploy one node at a time.", "active": False}
    invalid_data = {"symptom": ""}
    writers = ("alice", "bob", "maria", "root")


def numbers(client, **query):
    response = client.get(KNOWN_ERRORS, query)
    assert response.status_code == 200, response.content
    return {row["number"] for row in response.json()["results"]}


def test_a_known_error_is_created_with_cis_and_a_problem(alice_api):
    ci, problem = CIFactory(), ProblemFactory()
    response = alice_api.post(
        KNOWN_ERRORS,
        {"title": "Cert expiry", "symptom": "TLS errors", "affected_cis": [ci.pk], "problem": problem.pk},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["number"].startswith("KE") and body["active"] is True
    assert body["affected_cis"] == [ci.pk] and body["problem_number"] == problem.number
    assert body["web_url"] == f"/problems/known-errors/{body['id']}/"
    assert problem.timeline.get().data["number"] == body["number"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"problem": 999999}, "problem"), ({"affected_cis": ["x"]}, "affected_cis"), ({"title": "t" * 201}, "title")],
)
def test_bad_input_is_a_400_naming_the_field(alice_api, payload, field):
    response = alice_api.post(KNOWN_ERRORS, {"title": "T", "symptom": "S"} | payload)
    assert response.status_code == 400 and field in response.json(), response.content
    assert not KnownError.objects.exists()


def test_q_matches_every_word_in_any_of_the_texts(alice_api):
    restart = KnownErrorFactory(title="Shop 502", symptom="502 Bad Gateway", workaround="Restart the workers.")
    cert = KnownErrorFactory(title="TLS", symptom="Handshake fails", root_cause="Expired intermediate certificate")
    assert numbers(alice_api, q="502 restart") == {restart.number}
    assert numbers(alice_api, q="RESTART 502") == {restart.number}
    assert numbers(alice_api, q="certificate handshake") == {cert.number}
    assert numbers(alice_api, q="502 certificate") == set()
    assert numbers(alice_api, q=cert.number) == {cert.number}


def test_filters_by_ci_active_and_problem(alice_api, alice):
    ci = CIFactory()
    problem = ProblemFactory(root_cause="Known.")
    mine = services.create_known_error(user=alice, title="A", symptom="s", affected_cis=[ci], problem=problem)
    retired = KnownErrorFactory(active=False)
    retired.affected_cis.add(ci)
    KnownErrorFactory()
    assert numbers(alice_api, ci=ci.pk) == {mine.number, retired.number}
    assert numbers(alice_api, ci=ci.pk, active="true") == {mine.number}
    assert numbers(alice_api, active="false") == {retired.number}
    assert numbers(alice_api, problem=problem.pk) == {mine.number}
    assert alice_api.get(KNOWN_ERRORS, {"ci": "abc"}).status_code == 400


def test_the_list_costs_the_same_queries_at_any_size(alice_api, django_assert_max_num_queries):
    for n in range(25):
        known_error = KnownErrorFactory(problem=ProblemFactory() if n % 2 else None)
        known_error.affected_cis.add(CIFactory(), CIFactory())
    with django_assert_max_num_queries(7):
        response = alice_api.get(KNOWN_ERRORS, {"page_size": 25, "q": "502"})
    assert response.status_code == 200 and len(response.json()["results"]) == 25
