import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db.models import ProtectedError
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from itom.api.exceptions import TransitionNotAllowed

pytestmark = pytest.mark.django_db


def run_view(raise_exc, user):
    class Failing(APIView):
        permission_classes = []

        def post(self, request):
            raise raise_exc

    request = APIRequestFactory().post("/x/", {}, format="json")
    force_authenticate(request, user=user)
    return Failing.as_view()(request)


def test_a_disallowed_transition_is_a_409_listing_the_allowed_states(alice):
    response = run_view(TransitionNotAllowed("closed", "in_progress", ["resolved"]), alice)
    assert response.status_code == 409
    assert response.data == {
        "detail": "Cannot move from 'closed' to 'in_progress'; allowed: resolved.",
        "state": "closed",
        "requested": "in_progress",
        "allowed": ["resolved"],
    }


def test_a_model_validation_error_from_a_service_is_a_400_per_field(alice):
    response = run_view(ValidationError({"email": ["Enter a valid e-mail address."], "__all__": ["Bad."]}), alice)
    assert response.status_code == 400
    assert response.data == {"email": ["Enter a valid e-mail address."], "non_field_errors": ["Bad."]}


def test_deleting_something_still_referred_to_is_a_409(alice):
    response = run_view(ProtectedError("protected", {alice}), alice)
    assert response.status_code == 409


def test_the_api_root_lists_the_resources(victor_api):
    body = victor_api.get("/api/v1/").json()
    assert {"teams", "users", "audit", "schema", "docs"} <= set(body)


def test_malformed_json_is_a_400_not_a_500(maria_api):
    response = maria_api.post("/api/v1/teams/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_the_schema_is_valid_openapi_3(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert text.startswith("openapi: 3.")
    assert "/api/v1/teams/" in text and "tokenAuth" in text


def test_the_schema_and_docs_are_served_from_local_assets(victor_api, client, victor):
    assert victor_api.get("/api/v1/schema/").status_code == 200
    client.force_login(victor)
    html = client.get("/api/v1/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower() and "https://" not in html
