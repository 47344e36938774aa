"""The known-error pages with Django's client: the list (word search, quick views, CI filter,
constant queries, CSV), the page, add/edit (from a problem's number, CIs by name), retire,
delete, history, and who may do what."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.models import KnownError
from incidents.services import problems as services
from tests.factories import CIFactory, KnownErrorFactory, ProblemFactory

pytestmark = pytest.mark.django_db

LIST = "/problems/known-errors/"


def page(known_error, action=""):
    return f"{LIST}{known_error.pk}/{action + '/' if action else ''}"


def numbers_in(response):
    return [obj.number for obj, _ in response.context["rows"]]


def test_the_list_searches_every_word_and_shows_the_start_of_the_symptom(alice_client):
    restart = KnownErrorFactory(title="Shop 502", symptom="502 Bad Gateway " + "x" * 300, workaround="Restart workers")
    cert = KnownErrorFactory(title="TLS", symptom="Handshake fails", root_cause="Expired certificate")
    response = alice_client.get(LIST, {"q": "restart 502"})
    assert numbers_in(response) == [restart.number]
    [(_, cells)] = response.context["rows"]
    symptom = next(value for column, value in cells if column.label == "Symptom")
    assert symptom.startswith("502 Bad Gateway") and len(symptom) == 160
    assert numbers_in(alice_client.get(LIST, {"q": "certificate"})) == [cert.number]


def test_quick_views_and_the_ci_filter(alice_client, alice):
    ci = CIFactory()
    active = services.create_known_error(user=alice, title="Active", symptom="s", affected_cis=[ci])
    retired = KnownErrorFactory(title="Retired", active=False)
    views = {label: url for label, url, _ in alice_client.get(LIST).context["quick_views"]}
    assert list(views) == ["All", "Active", "Retired"]
    assert numbers_in(alice_client.get(views["Active"])) == [active.number]
    assert numbers_in(alice_client.get(views["Retired"])) == [retired.number]
    assert numbers_in(alice_client.get(LIST, {"ci": ci.pk})) == [active.number]


def test_the_list_answers_in_constant_queries_and_exports_csv(alice_client):
    def cost():
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(LIST, {"per_page": 100}).status_code == 200
        return len(queries)

    KnownErrorFactory(problem=ProblemFactory())
    few = cost()
    for _ in range(30):
        KnownErrorFactory(problem=ProblemFactory())
    assert cost() == few <= 10
    exported = b"".join(alice_client.get(LIST, {"export": "csv"}).streaming_content).decode()
    assert exported.splitlines()[0] == "Number,Title,Symptom,Problem,Active,Updated"
    assert len(exported.splitlines()) == 32


def test_the_page_shows_symptom_cause_workaround_problem_and_cis(alice_client, alice):
    ci = CIFactory(name="shop-web")
    problem = ProblemFactory()
    known_error = services.create_known_error(
        user=alice,
        title="502 after deploy",
        symptom="Shop answers 502.",
        root_cause="Cold cache.",
        workaround="Warm the cache first.",
        affected_cis=[ci],
        problem=problem,
    )
    response = alice_client.get(page(known_error))
    body = response.content.decode()
    for text in ("Shop answers 502.", "Cold cache.", "Warm the cache first.", "shop-web", problem.number):
        assert text in body, text
    assert f'href="{page(known_error, "edit")}">Edit</a>' in body
    assert f'href="{page(known_error, "history")}">History</a>' in body


def test_a_known_error_is_added_with_a_problem_number_and_cis_by_name(alice_client):
    ci = CIFactory(name="mail-01")
    problem = ProblemFactory()
    add = alice_client.get(LIST)
    assert 'href="/problems/known-errors/add/">Add known error</a>' in add.content.decode()
    response = alice_client.post(
        f"{LIST}add/",
        {
            "title": "Mail bounces",
            "symptom": "550 from the relay.",
            "workaround": "Send through relay B.",
            "affected_cis": "mail-01",
            "problem": problem.number.lower(),
            "active": "on",
        },
        follow=True,
    )
    known_error = KnownError.objects.get()
    assert response.redirect_chain[-1][0] == page(known_error)
    assert known_error.problem == problem and list(known_error.affected_cis.all()) == [ci]
    assert problem.timeline.get().data["number"] == known_error.number


def test_the_add_form_is_prefilled_from_a_problem(alice_client):
    problem = ProblemFactory(title="Cert", description="TLS fails.", root_cause="Expired.", workaround="Renew.")
    form = alice_client.get(f"{LIST}add/", {"problem": problem.pk}).context["form"]
    assert form.initial["problem"] == problem.number and form.initial["symptom"] == "TLS fails."
    assert form.initial["workaround"] == "Renew."


def test_bad_input_is_shown_on_the_fields_and_nothing_is_written(alice_client):
    response = alice_client.post(f"{LIST}add/", {"title": "", "symptom": "", "problem": "PRB0999999"})
    errors = response.context["form"].errors
    assert set(errors) == {"title", "symptom", "problem"}
    assert errors["problem"] == ["No problem is numbered PRB0999999."]
    assert not KnownError.objects.exists()


def test_retiring_and_deleting(alice_client):
    known_error = KnownErrorFactory(title="Old")
    alice_client.post(page(known_error, "edit"), {"title": "Old", "symptom": "s", "affected_cis": ""})
    known_error.refresh_from_db()
    assert known_error.active is False  # the unticked box retires it
    assert "Retired" in alice_client.get(page(known_error)).content.decode()
    history = alice_client.get(page(known_error, "history")).content.decode()
    assert '<td>Active</td><td class="diff-before">True</td><td class="diff-after">False</td>' in history
    response = alice_client.post(page(known_error, "delete"), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert not KnownError.objects.exists()


def test_a_viewer_reads_but_may_not_write(client, victor):
    client.force_login(victor)
    known_error = KnownErrorFactory()
    body = client.get(page(known_error)).content.decode()
    assert ">Edit<" not in body and ">Delete<" not in body
    assert "Add known error" not in client.get(LIST).content.decode()
    assert client.get(f"{LIST}add/").status_code == 403
    assert client.post(page(known_error, "edit"), {"title": "x", "symptom": "y"}).status_code == 403
    assert client.post(page(known_error, "delete")).status_code == 403
    known_error.refresh_from_db()
    assert known_error.title != "x"
