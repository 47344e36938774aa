"""The notification pages: the list (own only), opening and marking, the bell's unread count in the
navigation, and the preferences page."""

import pytest
from django.utils import timezone

from itom.models import Notification, NotificationPreference
from tests.itom import notifying

pytestmark = pytest.mark.django_db
sample_events = notifying.sample_events


def note(user, title="Printer on fire", url="/teams/", event="test.created", read=False):
    return Notification.objects.create(
        recipient=user, event=event, title=title, body="It smokes.", url=url, read_at=timezone.now() if read else None
    )


def test_the_list_shows_my_unread_notifications_by_default_and_all_on_request(alice_client, alice, bob, sample_events):
    note(alice, "Unread one")
    note(alice, "Already read", read=True)
    note(bob, "Bob's secret")
    page = alice_client.get("/notifications/").content.decode()
    assert "Unread one" in page and "Already read" not in page and "Bob&#x27;s secret" not in page
    assert "Test thing created" in page  # the event's label
    everything = alice_client.get("/notifications/?show=all").content.decode()
    assert "Unread one" in everything and "Already read" in everything and "Bob" not in everything


def test_the_list_filters_by_event_and_words_and_htmx_gets_the_list_only(alice_client, alice, sample_events):
    note(alice, "Disk full", event="test.changed")
    note(alice, "Printer on fire")
    page = alice_client.get("/notifications/", {"event": "test.changed"}).content.decode()
    assert "Disk full" in page and "Printer on fire" not in page
    partial = alice_client.get(
        "/notifications/", {"q": "printer"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="object-table"
    ).content.decode()
    assert "Printer on fire" in partial and "Disk full" not in partial and "<html" not in partial


def test_the_list_page_answers_in_a_bounded_number_of_queries(alice_client, alice, django_assert_max_num_queries):
    for i in range(60):
        note(alice, f"Event {i}")
    with django_assert_max_num_queries(10):
        response = alice_client.get("/notifications/?show=all")
    assert response.status_code == 200
    assert response.content.decode().count('class="list-group-item') == 25


def test_opening_a_notification_marks_it_read_and_goes_to_its_page(alice_client, alice):
    item = note(alice, url="/teams/")
    response = alice_client.get(f"/notifications/{item.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "/teams/"
    item.refresh_from_db()
    assert item.read_at is not None


def test_a_notification_never_sends_anyone_off_the_portal(alice_client, alice):
    item = note(alice, url="https://evil.example.com/phish")
    response = alice_client.get(f"/notifications/{item.pk}/open/")
    assert response["Location"] == "/notifications/"


def test_nobody_opens_or_marks_another_persons_notification(alice_client, bob):
    theirs = note(bob)
    assert alice_client.get(f"/notifications/{theirs.pk}/open/").status_code == 404
    assert alice_client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_read_with_htmx_swaps_the_row_and_tells_the_bell(alice_client, alice):
    item = note(alice)
    response = alice_client.post(f"/notifications/{item.pk}/read/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "notifications-changed"
    assert "Mark unread" in response.content.decode()
    response = alice_client.post(f"/notifications/{item.pk}/unread/", {"next": "/notifications/?show=all"})
    assert response.status_code == 302 and response["Location"] == "/notifications/?show=all"
    item.refresh_from_db()
    assert item.read_at is None
    assert alice_client.get(f"/notifications/{item.pk}/read/").status_code == 405


def test_mark_all_read(alice_client, alice, bob):
    note(alice)
    note(alice)
    bobs = note(bob)
    response = alice_client.post("/notifications/read-all/", follow=True)
    assert "Marked 2 notifications read." in response.content.decode()
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()
    bobs.refresh_from_db()
    assert bobs.read_at is None


def test_the_navigation_bell_shows_my_unread_count_on_every_page(alice_client, alice, bob):
    home = alice_client.get("/").content.decode()
    assert 'id="notification-bell"' in home and 'id="notification-count"' not in home
    for _ in range(3):
        note(alice)
    note(bob)
    home = alice_client.get("/").content.decode()
    assert 'aria-label="Notifications: 3 unread"' in home
    assert '<span class="position-absolute' in home and ">3</span>" in home
    bell = alice_client.get("/notifications/bell/").content.decode()
    assert "3 unread" in bell and "<html" not in bell


def test_a_big_count_is_shown_as_99_plus(alice_client, alice):
    Notification.objects.bulk_create(
        [Notification(recipient=alice, event="test.created", title=str(i)) for i in range(120)]
    )
    assert ">99+</span>" in alice_client.get("/notifications/bell/").content.decode()


def test_notification_pages_need_a_signed_in_user(client):
    for url in ("/notifications/", "/notifications/preferences/", "/notifications/bell/"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url


def test_the_preferences_page_shows_the_choices_and_saves_them(alice_client, alice, sample_events):
    page = alice_client.get("/notifications/preferences/").content.decode()
    assert 'name="test.created:in_app" id="pref-test.created-in_app" checked' in page
    assert 'name="test.changed:email" id="pref-test.changed-email" aria' in page  # off by default
    # keep everything as shown, except: no e-mail for test.created, portal on for test.quiet
    form = {f"{key}:in_app": "on" for key in ("test.created", "test.changed", "test.quiet")}
    events = {row.split(":")[0] for row in form}
    from itom import notifications

    for event in notifications.events():
        if event.key not in events:
            for channel in event.default_channels:
                form[f"{event.key}:{channel}"] = "on"
    response = alice_client.post("/notifications/preferences/", form, follow=True)
    assert "Saved your notification preferences." in response.content.decode()
    assert set(NotificationPreference.objects.filter(user=alice).values_list("event", "channel", "enabled")) == {
        ("test.created", "email", False),
        ("test.quiet", "in_app", True),
    }


def test_the_preferences_page_warns_a_user_without_an_email_address(client, sample_events):
    from tests.factories import UserFactory

    user = UserFactory(username="noaddress", email="")
    client.force_login(user)
    assert "has no e-mail address" in client.get("/notifications/preferences/").content.decode()
