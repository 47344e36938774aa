"""Generic API tests: subclass ``APIEndpointTests`` and set a few attributes to give an endpoint
list/get/create/update/delete, permission-per-role, bad-input and audit tests.

    class TestTeamAPI(APIEndpointTests):
        viewset = TeamViewSet
        url_name = "api:team"
        make_object = staticmethod(lambda: TeamFactory())
        create_data = {"name": "Storage"}
        update_data = {"email": "storage@example.com"}
        invalid_data = {"email": "not-an-address"}     # field → bad value

Read-only endpoints subclass ``ReadOnlyAPIEndpointTests`` instead. ``tests/itom/test_api_coverage.py``
fails when a registered endpoint has neither.
People come from ``tests/conftest.py``: alice and bob (agents), victor (viewer), maria
(manager), root (superuser).
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from itom.models import ObjectChange

EVERYONE = ("alice", "bob", "victor", "maria", "root")


@pytest.mark.django_db
class APIReadTests:
    """Reads, roles and search for any endpoint; use one of the two subclasses below."""

    viewset = None  # the ViewSet under test (the coverage test matches on it)
    url_name = None  # "api:team" → "api:team-list" / "api:team-detail"
    make_object = None  # staticmethod: () -> a saved instance
    create_data = None  # dict, or staticmethod returning a dict
    update_data = None
    invalid_data = None  # {"field": bad value}: the 400 must name the field
    readers = EVERYONE
    writers = ("maria", "root")
    list_size = 5
    max_list_queries = 8
    audited = True

    # --- helpers --------------------------------------------------------------------------

    def list_url(self):
        return reverse(f"{self.url_name}-list")

    def detail_url(self, obj):
        return reverse(f"{self.url_name}-detail", args=[obj.pk])

    def data(self, attr):
        value = getattr(self, attr)
        return dict(value()) if callable(value) else dict(value)

    def model(self):
        return self.viewset.queryset.model

    def changes_for(self, pk, action):
        ct = ContentType.objects.get_for_model(self.model())
        return ObjectChange.objects.filter(content_type=ct, object_id=str(pk), action=action)

    # --- reads ----------------------------------------------------------------------------

    def test_anonymous_callers_are_refused(self, anon):
        obj = self.make_object()
        assert anon.get(self.list_url()).status_code in (401, 403)
        assert anon.get(self.detail_url(obj)).status_code in (401, 403)

    def test_readers_can_list_with_pagination_and_bounded_queries(
        self, people, make_api_client, django_assert_max_num_queries
    ):
        objects = [self.make_object() for _ in range(self.list_size)]
        for name in self.readers:
            client = make_api_client(people[name])
            with django_assert_max_num_queries(self.max_list_queries):
                response = client.get(self.list_url(), {"page_size": 3})
            assert response.status_code == 200, (name, response.content)
            body = response.json()
            assert set(body) >= {"count", "next", "previous", "results"}
            assert body["count"] >= len(objects)
            assert len(body["results"]) == 3
            assert body["next"] is not None

    def test_readers_can_get_one_with_an_etag(self, people, make_api_client):
        obj = self.make_object()
        for name in self.readers:
            response = make_api_client(people[name]).get(self.detail_url(obj))
            assert response.status_code == 200, (name, response.content)
            assert response.json()["id"] == obj.pk
            if hasattr(obj, "updated_at"):
                assert response["ETag"]

    def test_roles_without_read_access_are_refused(self, people, make_api_client):
        obj = self.make_object()
        for name in set(EVERYONE) - set(self.readers):
            assert make_api_client(people[name]).get(self.detail_url(obj)).status_code == 403, name

    def test_q_search_and_ordering_are_accepted(self, people, make_api_client):
        self.make_object()
        client = make_api_client(people["root"])
        assert client.get(self.list_url(), {"q": "zzz-no-such-thing"}).json()["count"] == 0
        ordering = self.viewset.ordering_fields[0]
        assert client.get(self.list_url(), {"ordering": f"-{ordering}"}).status_code == 200


class ReadOnlyAPIEndpointTests(APIReadTests):
    """A read-only endpoint: the read tests, and every write answers 405."""

    def test_writes_are_refused_on_a_read_only_endpoint(self, people, make_api_client):
        obj = self.make_object()
        client = make_api_client(people["root"])
        assert client.post(self.list_url(), {}, format="json").status_code == 405
        assert client.patch(self.detail_url(obj), {}, format="json").status_code == 405
        assert client.delete(self.detail_url(obj)).status_code == 405


class APIEndpointTests(APIReadTests):
    """A writable endpoint: the read tests plus create, update, delete, roles, bad input, audit."""

    def test_writers_can_create_and_the_audit_trail_names_them(self, people, make_api_client):
        for name in self.writers:
            payload = self.data("create_data")
            response = make_api_client(people[name]).post(self.list_url(), payload, format="json")
            assert response.status_code == 201, (name, response.content)
            pk = response.json()["id"]
            assert self.model().objects.filter(pk=pk).exists()
            if self.audited:
                change = self.changes_for(pk, "create").get()
                assert change.user == people[name]
                assert change.user_name == name
            self.model().objects.filter(pk=pk).delete()

    def test_other_roles_cannot_create(self, people, make_api_client):
        before = self.model().objects.count()
        for name in set(EVERYONE) - set(self.writers):
            response = make_api_client(people[name]).post(self.list_url(), self.data("create_data"), format="json")
            assert response.status_code == 403, (name, response.content)
        assert self.model().objects.count() == before

    def test_a_read_only_token_cannot_write(self, people, make_api_client):
        obj = self.make_object()
        client = make_api_client(people[self.writers[0]], write=False)
        assert client.get(self.detail_url(obj)).status_code == 200
        response = client.post(self.list_url(), self.data("create_data"), format="json")
        assert response.status_code == 403
        assert "read-only" in response.json()["detail"]
        assert client.delete(self.detail_url(obj)).status_code == 403
        assert self.model().objects.filter(pk=obj.pk).exists()

    def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(self, people, make_api_client):
        before = self.model().objects.count()
        payload = self.data("create_data")
        payload.update(self.invalid_data)
        response = make_api_client(people[self.writers[0]]).post(self.list_url(), payload, format="json")
        assert response.status_code == 400, response.content
        for field in self.invalid_data:
            assert field in response.json(), response.json()
        assert self.model().objects.count() == before

    def test_writers_can_update_and_the_change_is_audited(self, people, make_api_client):
        obj = self.make_object()
        client = make_api_client(people[self.writers[0]])
        response = client.patch(self.detail_url(obj), self.data("update_data"), format="json")
        assert response.status_code == 200, response.content
        for field, value in self.data("update_data").items():
            assert response.json()[field] == value
        if self.audited:
            change = self.changes_for(obj.pk, "update").get()
            assert change.user_name == self.writers[0]
            assert set(self.data("update_data")) <= set(change.diff)

    def test_a_stale_if_match_is_a_412_and_a_fresh_one_succeeds(self, people, make_api_client):
        obj = self.make_object()
        client = make_api_client(people[self.writers[0]])
        etag = client.get(self.detail_url(obj))["ETag"]
        stale = client.patch(self.detail_url(obj), self.data("update_data"), format="json", HTTP_IF_MATCH='"0-0"')
        assert stale.status_code == 412
        fresh = client.patch(self.detail_url(obj), self.data("update_data"), format="json", HTTP_IF_MATCH=etag)
        assert fresh.status_code == 200, fresh.content
        assert fresh["ETag"] != etag

    def test_other_roles_cannot_update_or_delete(self, people, make_api_client):
        obj = self.make_object()
        for name in set(EVERYONE) - set(self.writers):
            client = make_api_client(people[name])
            assert client.patch(self.detail_url(obj), self.data("update_data"), format="json").status_code == 403
            assert client.delete(self.detail_url(obj)).status_code == 403
        assert self.model().objects.filter(pk=obj.pk).exists()

    def test_writers_can_delete_and_the_deletion_is_audited(self, people, make_api_client):
        obj = self.make_object()
        response = make_api_client(people[self.writers[0]]).delete(self.detail_url(obj))
        assert response.status_code == 204
        assert not self.model().objects.filter(pk=obj.pk).exists()
        if self.audited:
            change = self.changes_for(obj.pk, "delete").get()
            assert change.user_name == self.writers[0]
            assert change.prechange_data["id"] == obj.pk
