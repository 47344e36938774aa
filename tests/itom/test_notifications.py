"""``itom.notifications``: events, ``notify`` (in-app rows, e-mails and webhooks, after commit only),
preferences, and the e-mail a person receives."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from itom import notifications
from itom.choices import DeliveryState
from itom.models import Notification, NotificationPreference, WebhookDelivery
from itom.notifications import Event, notify, register_event
from itom.tasks import deliver_email, prune_notifications
from tests.factories import TeamFactory, UserFactory, WebhookEndpointFactory
from tests.itom import notifying

pytestmark = pytest.mark.django_db
eager_celery = notifying.eager_celery
sample_events = notifying.sample_events


class Numbered:
    """Any object with a number, a name and a page (what notify needs from a model instance)."""

    number = "INC0000042"
    pk = 42

    def __str__(self):
        return "Printer on fire"

    def get_absolute_url(self):
        return "/incidents/42/"


# --- Events ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "label", "channels", "message"),
    [
        ("incident", "Incident", ("in_app",), "dotted lower-case"),
        ("Incident.Created", "Incident", ("in_app",), "dotted lower-case"),
        ("incident.created", "", ("in_app",), "needs a label"),
        ("incident.created", "Incident created", ("sms",), "unknown channel"),
        ("incident." + "x" * 60, "Long", ("in_app",), "at most 50"),
    ],
)
def test_an_event_needs_a_dotted_key_a_label_and_known_channels(key, label, channels, message):
    with pytest.raises(ValueError, match=message):
        Event(key, label, channels)


def test_registering_the_same_event_again_is_harmless_but_a_different_one_is_refused(sample_events):
    register_event(Event("test.created", "Test thing created"))
    assert [e.key for e in notifications.events()].count("test.created") == 1
    with pytest.raises(ValueError, match="already registered"):
        register_event(Event("test.created", "Something else"))
    with pytest.raises(TypeError):
        register_event({"key": "test.dict"})


def test_notify_refuses_an_event_nobody_registered(alice):
    with pytest.raises(LookupError, match=r"unknown notification event .nobody\.registered."):
        notify("nobody.registered", None, recipients=[alice])


# --- In-app notifications ---------------------------------------------------------------------


def test_each_recipient_gets_one_notification_except_the_actor_and_inactive_users(sample_events, alice, bob, maria):
    gone = UserFactory(username="gone", is_active=False)
    notify(
        "test.created",
        Numbered(),
        recipients=[alice, bob, bob.pk, maria, gone, None],
        actor=maria,
        body="It smokes.",
    )
    rows = Notification.objects.order_by("recipient__username")
    assert [n.recipient.username for n in rows] == ["alice", "bob"]
    first = rows[0]
    assert first.event == "test.created"
    assert first.title == "Test thing created: INC0000042 Printer on fire"
    assert first.body == "It smokes."
    assert first.url == "/incidents/42/"
    assert first.read_at is None


def test_a_caller_may_give_the_title_and_url_and_an_object_without_a_page(sample_events, alice):
    team = TeamFactory(name="Network")
    notify("test.changed", team, recipients=[alice], title="Network changed", url="/teams/")
    notify("test.changed", None, recipients=[alice])
    titles = set(Notification.objects.values_list("title", "url"))
    assert titles == {("Network changed", "/teams/"), ("Test thing changed", "")}


def test_a_recipient_that_is_not_a_user_is_a_programming_error(sample_events):
    for wrong in (["alice"], [TeamFactory(name="Network")], [True]):
        with pytest.raises(TypeError, match="a user or a user id"):
            notify("test.created", None, recipients=wrong)
    assert not Notification.objects.exists()


def test_a_user_who_turned_the_event_off_in_the_portal_gets_no_notification(sample_events, alice, bob):
    notifications.set_preferences(alice, {"test.created": {"in_app": False}})
    notify("test.created", None, recipients=[alice, bob])
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["bob"]


def test_an_event_off_by_default_reaches_only_those_who_turned_it_on(sample_events, alice, bob):
    notifications.set_preferences(bob, {"test.quiet": {"in_app": True}})
    notify("test.quiet", None, recipients=[alice, bob])
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == ["bob"]


def test_a_rolled_back_change_notifies_nobody(sample_events, alice, django_capture_on_commit_callbacks):
    WebhookEndpointFactory()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():
        notify("test.created", None, recipients=[alice])
        raise RuntimeError("the change failed")
    assert not Notification.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert callbacks == []


def test_notify_costs_a_constant_number_of_queries(sample_events, django_assert_max_num_queries):
    people = [UserFactory() for _ in range(20)]
    WebhookEndpointFactory()
    WebhookEndpointFactory()
    with django_assert_max_num_queries(5):
        notify("test.created", None, recipients=people)
    assert Notification.objects.count() == 20
    assert WebhookDelivery.objects.count() == 2


# --- E-mail ---------------------------------------------------------------------------------------


def test_emails_go_out_only_once_the_transaction_commits(
    sample_events, alice, bob, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_URL = "https://itom.example.com"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify("test.created", Numbered(), recipients=[alice, bob], body="It smokes.")
        assert mail.outbox == []
    assert len(callbacks) == 2
    for callback in callbacks:
        callback()
    assert sorted(message.to[0] for message in mail.outbox) == ["alice@example.com", "bob@example.com"]
    message = mail.outbox[0]
    assert message.subject == "[ITOM Portal] Test thing created: INC0000042 Printer on fire"
    assert "It smokes." in message.body
    assert "https://itom.example.com/incidents/42/" in message.body
    assert "https://itom.example.com/notifications/preferences/" in message.body
    assert message.extra_headers["X-ITOM-Event"] == "test.created"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    html, kind = message.alternatives[0]
    assert kind == "text/html"
    assert 'href="https://itom.example.com/incidents/42/"' in html


def test_events_that_are_in_app_only_by_default_send_no_email(
    sample_events, alice, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        notify("test.changed", None, recipients=[alice])
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=alice).count() == 1


def test_a_user_who_turned_email_off_gets_no_email_but_still_the_notification(
    sample_events, alice, eager_celery, django_capture_on_commit_callbacks
):
    notifications.set_preferences(alice, {"test.created": {"email": False}})
    with django_capture_on_commit_callbacks(execute=True):
        notify("test.created", None, recipients=[alice])
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=alice).count() == 1


def test_the_email_task_skips_users_who_left_lost_their_address_or_changed_their_mind(sample_events, alice, bob):
    nobody = UserFactory(username="nobody", email="")
    gone = UserFactory(username="gone", is_active=False)
    notifications.set_preferences(bob, {"test.created": {"email": False}})
    for user_id in (nobody.pk, gone.pk, bob.pk, 999_999):
        assert deliver_email.apply(args=[user_id, "test.created", "Hello"]).get() is False
    assert mail.outbox == []
    assert deliver_email.apply(args=[alice.pk, "test.created", "Hello"]).get() is True
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_a_user_without_an_address_is_not_queued_an_email(
    sample_events, eager_celery, django_capture_on_commit_callbacks
):
    nobody = UserFactory(username="nobody", email="")
    with django_capture_on_commit_callbacks() as callbacks:
        notify("test.created", None, recipients=[nobody])
    assert callbacks == []
    assert Notification.objects.filter(recipient=nobody).exists()


# --- Preferences -------------------------------------------------------------------------------


def test_preferences_start_from_the_event_defaults_and_store_only_what_differs(sample_events, alice):
    rows = {row["event"].key: row["channels"] for row in notifications.preferences_of(alice)}
    assert rows["test.created"] == {"in_app": True, "email": True}
    assert rows["test.changed"] == {"in_app": True, "email": False}
    assert rows["test.quiet"] == {"in_app": False, "email": False}

    notifications.set_preferences(alice, {"test.changed": {"email": True, "in_app": True}})
    assert list(NotificationPreference.objects.values_list("event", "channel", "enabled")) == [
        ("test.changed", "email", True)
    ]
    notifications.set_preferences(alice, {"test.changed": {"email": False}})
    assert not NotificationPreference.objects.exists()


def test_unknown_events_or_channels_are_refused_and_nothing_is_written(sample_events, alice):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        notifications.set_preferences(alice, {"test.changed": {"email": True}, "no.such": {"email": True}})
    assert "no.such" in str(refused.value)
    with pytest.raises(ValidationError, match="sms"):
        notifications.set_preferences(alice, {"test.changed": {"sms": True}})
    with pytest.raises(ValidationError, match="true or false"):
        notifications.set_preferences(alice, {"test.changed": {"email": "yes"}})
    assert not NotificationPreference.objects.exists()


# --- Webhooks from notify ----------------------------------------------------------------------


def test_notify_queues_a_delivery_for_each_active_endpoint_subscribed_to_the_event(
    sample_events, alice, maria, django_capture_on_commit_callbacks
):
    everything = WebhookEndpointFactory(name="Everything")
    subscribed = WebhookEndpointFactory(name="Subscribed", kind="chat", events=["test.created"])
    WebhookEndpointFactory(name="Other events", events=["test.changed"])
    WebhookEndpointFactory(name="Inactive", active=False)
    with django_capture_on_commit_callbacks() as callbacks:
        notify("test.created", Numbered(), recipients=[alice], actor=maria, body="It smokes.", data={"priority": 1})
    deliveries = WebhookDelivery.objects.order_by("endpoint__name")
    assert [d.endpoint for d in deliveries] == [everything, subscribed]
    assert all(d.state == DeliveryState.PENDING and d.attempts == 0 for d in deliveries)
    payload = deliveries[0].payload
    assert payload["event"] == "test.created"
    assert payload["title"] == "Test thing created: INC0000042 Printer on fire"
    assert payload["object"] == {
        "type": "Numbered",
        "id": 42,
        "number": "INC0000042",
        "display": "Printer on fire",
        "url": "/incidents/42/",
    }
    assert payload["actor"]["username"] == "maria"
    assert payload["data"] == {"priority": 1}
    # one e-mail and two deliveries, all waiting for the commit
    assert len(callbacks) == 3


def test_webhooks_receive_events_nobody_is_told_about(sample_events, django_capture_on_commit_callbacks):
    WebhookEndpointFactory()
    notify("test.created", None)
    assert WebhookDelivery.objects.count() == 1
    assert not Notification.objects.exists()


# --- Housekeeping ---------------------------------------------------------------------------------


def test_old_notifications_and_finished_deliveries_are_pruned(sample_events, alice, settings):
    settings.NOTIFICATION_RETENTION_DAYS = 30
    settings.WEBHOOK_DELIVERY_RETENTION_DAYS = 7
    endpoint = WebhookEndpointFactory()
    old = timezone.now() - timedelta(days=40)
    kept = Notification.objects.create(recipient=alice, event="test.created", title="Recent")
    stale = Notification.objects.create(recipient=alice, event="test.created", title="Old")
    done = WebhookDelivery.objects.create(endpoint=endpoint, event="test.created", payload={}, state="succeeded")
    open_ = WebhookDelivery.objects.create(endpoint=endpoint, event="test.created", payload={}, state="retrying")
    Notification.objects.filter(pk=stale.pk).update(created_at=old)
    WebhookDelivery.objects.filter(pk__in=[done.pk, open_.pk]).update(created_at=old)

    assert prune_notifications.apply().get() == {"notifications": 1, "deliveries": 1}
    assert list(Notification.objects.all()) == [kept]
    assert list(WebhookDelivery.objects.all()) == [open_]
