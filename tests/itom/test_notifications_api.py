"""``/api/v1/notifications/`` (each caller's own list, read/unread, read-all, unread count) and
``/api/v1/notifications/preferences/``."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from itom.api.notifications import NotificationViewSet
from itom.models import Notification, NotificationPreference
from tests.api_testing import EVERYONE, ReadOnlyAPIEndpointTests
from tests.factories import UserFactory
from tests.itom import notifying

pytestmark = pytest.mark.django_db
sample_events = notifying.sample_events

LIST = "/api/v1/notifications/"
PREFERENCES = "/api/v1/notifications/preferences/"


def note(user, title="Something happened", event="test.created", read=False):
    from django.utils import timezone

    return Notification.objects.create(
        recipient=user, event=event, title=title, body="Details", url="/x/", read_at=timezone.now() if read else None
    )


def one_for_everyone():
    """A notification for every existing user (each reads only their own); returns the last."""
    users = list(get_user_model().objects.all()) or [UserFactory()]
    return [note(user) for user in users][-1]


class TestNotificationAPI(ReadOnlyAPIEndpointTests):
    viewset = NotificationViewSet
    url_name = "api:notification"
    make_object = staticmethod(one_for_everyone)
    readers = EVERYONE
    audited = False

    def test_readers_can_get_one_with_an_etag(self, people, make_api_client):
        """Each person reads their own notification; another person's is a 404, not a 403."""
        for name, person in people.items():
            mine = note(person)
            client = make_api_client(person)
            response = client.get(self.detail_url(mine))
            assert response.status_code == 200, (name, response.content)
            assert response.json()["id"] == mine.pk
            assert response["ETag"]
            other = note(people["alice" if name != "alice" else "bob"])
            assert client.get(self.detail_url(other)).status_code == 404


def test_the_list_holds_only_the_callers_notifications_newest_first(alice, bob, alice_api, sample_events):
    first = note(alice, "First")
    second = note(alice, "Second")
    note(bob, "Bob's")
    body = alice_api.get(LIST).json()
    assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
    row = body["results"][0]
    assert row == {
        "id": second.pk,
        "event": "test.created",
        "event_label": "Test thing created",
        "title": "Second",
        "body": "Details",
        "url": "/x/",
        "read": False,
        "read_at": None,
        "created_at": row["created_at"],
    }


def test_filters_unread_event_and_search(alice, alice_api):
    note(alice, "Disk full on db01", read=True)
    unread = note(alice, "Printer on fire")
    other_event = note(alice, "Problem opened", event="test.changed")
    assert [r["id"] for r in alice_api.get(LIST, {"unread": "true"}).json()["results"]] == [other_event.pk, unread.pk]
    assert [r["id"] for r in alice_api.get(LIST, {"event": "test.changed"}).json()["results"]] == [other_event.pk]
    assert [r["id"] for r in alice_api.get(LIST, {"q": "printer"}).json()["results"]] == [unread.pk]


def test_marking_one_read_and_unread(alice, alice_api):
    item = note(alice)
    url = reverse("api:notification-read", args=[item.pk])
    response = alice_api.post(url)
    assert response.status_code == 200
    assert response.json()["read"] is True and response.json()["read_at"]
    assert alice_api.get(reverse("api:notification-unread-count")).json() == {"unread": 0}
    response = alice_api.post(reverse("api:notification-unread", args=[item.pk]))
    assert response.json()["read"] is False
    assert alice_api.get(reverse("api:notification-unread-count")).json() == {"unread": 1}


def test_nobody_marks_another_persons_notification(alice, bob, alice_api):
    theirs = note(bob)
    assert alice_api.post(reverse("api:notification-read", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_read_all_marks_every_or_the_listed_notifications(alice, bob, alice_api):
    a, b, c = note(alice), note(alice), note(alice)
    bobs = note(bob)
    url = reverse("api:notification-read-all")
    response = alice_api.post(url, {"ids": [a.pk, bobs.pk]}, format="json")
    assert response.json() == {"marked": 1, "unread": 2}
    assert alice_api.post(url, {}, format="json").json() == {"marked": 2, "unread": 0}
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 1
    assert set(Notification.objects.filter(pk__in=[a.pk, b.pk, c.pk]).values_list("read_at", flat=True)) != {None}


def test_read_all_with_bad_ids_is_a_400_naming_the_field(alice, alice_api):
    item = note(alice)
    response = alice_api.post(reverse("api:notification-read-all"), {"ids": ["x"]}, format="json")
    assert response.status_code == 400 and "ids" in response.json()
    item.refresh_from_db()
    assert item.read_at is None


def test_a_read_only_token_cannot_mark_notifications(alice, make_api_client):
    item = note(alice)
    client = make_api_client(alice, write=False)
    assert client.get(LIST).status_code == 200
    response = client.post(reverse("api:notification-read", args=[item.pk]))
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_the_unread_count_is_one_query_after_authentication(alice, alice_api, django_assert_max_num_queries):
    for _ in range(30):
        note(alice)
    with django_assert_max_num_queries(6):
        assert alice_api.get(reverse("api:notification-unread-count")).json() == {"unread": 30}


def test_the_list_answers_in_a_constant_number_of_queries(alice, alice_api, django_assert_max_num_queries):
    for _ in range(60):
        note(alice)
    with django_assert_max_num_queries(8):
        response = alice_api.get(LIST, {"page_size": 50})
    assert len(response.json()["results"]) == 50


# --- Preferences ----------------------------------------------------------------------------------


def test_preferences_list_every_event_with_its_defaults(alice_api, sample_events):
    rows = {row["event"]: row for row in alice_api.get(PREFERENCES).json()}
    assert rows["test.changed"] == {
        "event": "test.changed",
        "label": "Test thing changed",
        "default_channels": ["in_app"],
        "in_app": True,
        "email": False,
    }
    assert rows["test.quiet"]["in_app"] is False


def test_writing_preferences_changes_only_the_named_channels(alice, alice_api, sample_events):
    response = alice_api.patch(
        PREFERENCES, [{"event": "test.created", "email": False}, {"event": "test.quiet", "in_app": True}], format="json"
    )
    assert response.status_code == 200, response.content
    rows = {row["event"]: row for row in response.json()}
    assert (rows["test.created"]["in_app"], rows["test.created"]["email"]) == (True, False)
    assert rows["test.quiet"]["in_app"] is True
    assert set(NotificationPreference.objects.filter(user=alice).values_list("event", "channel", "enabled")) == {
        ("test.created", "email", False),
        ("test.quiet", "in_app", True),
    }


def test_an_unknown_event_is_a_400_naming_it_and_nothing_is_written(alice_api, sample_events):
    response = alice_api.put(
        PREFERENCES, [{"event": "test.created", "email": False}, {"event": "no.such", "email": True}], format="json"
    )
    assert response.status_code == 400
    assert "no.such" in str(response.json())
    assert not NotificationPreference.objects.exists()
    response = alice_api.put(PREFERENCES, [{"event": "test.created", "email": "maybe"}], format="json")
    assert response.status_code == 400 and "email" in str(response.json())
    assert alice_api.put(PREFERENCES, {"event": "test.created"}, format="json").status_code == 400


def test_preferences_need_a_signed_in_caller_and_a_writable_token(anon, alice, make_api_client, sample_events):
    assert anon.get(PREFERENCES).status_code in (401, 403)
    read_only = make_api_client(alice, write=False)
    assert read_only.get(PREFERENCES).status_code == 200
    assert read_only.patch(PREFERENCES, [{"event": "test.created", "email": False}], format="json").status_code == 403
    assert not NotificationPreference.objects.exists()
