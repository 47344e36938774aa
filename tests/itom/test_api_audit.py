from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from itom.api.views import ObjectChangeViewSet
from itom.models import ObjectChange
from tests.api_testing import ReadOnlyAPIEndpointTests
from tests.factories import TeamFactory


def _a_change():
    team = TeamFactory()
    content_type = ContentType.objects.get_for_model(team)
    return ObjectChange.objects.filter(content_type=content_type, object_id=str(team.pk), action="create").get()


class TestAuditAPI(ReadOnlyAPIEndpointTests):
    viewset = ObjectChangeViewSet
    url_name = "api:audit"
    make_object = staticmethod(_a_change)


def test_audit_filters_by_object_type_and_id_user_and_time(maria_api, victor_api):
    maria_api.post("/api/v1/teams/", {"name": "Storage"}, format="json")
    team_id = maria_api.post("/api/v1/teams/", {"name": "Backup"}, format="json").json()["id"]
    body = victor_api.get("/api/v1/audit/", {"object_type": "accounts.team", "object_id": team_id}).json()
    assert body["count"] == 1
    change = body["results"][0]
    assert change["action"] == "create"
    assert change["object_type"] == "accounts.team"
    assert change["user_name"] == "maria"
    assert change["postchange_data"]["name"] == "Backup"
    maria_id = change["user"]
    assert victor_api.get("/api/v1/audit/", {"object_type": "accounts.team", "user": maria_id}).json()["count"] == 2
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert victor_api.get("/api/v1/audit/", {"time_after": future}).json()["count"] == 0
    assert (
        victor_api.get("/api/v1/audit/", {"time_before": future, "object_type": "accounts.team"}).json()["count"] == 2
    )


def test_token_key_hashes_never_reach_the_audit_trail(maria_api):
    token_changes = ObjectChange.objects.filter(content_type__model="apitoken")
    assert token_changes.exists()
    for change in token_changes:
        assert "key_hash" not in (change.postchange_data or {})
