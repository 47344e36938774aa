"""Notifications in a real browser: an agent follows the bell's unread count to the notification
list, marks one read in place (the bell follows), opens one, marks the rest read and changes their
preferences; a manager sets up a signed webhook pointing at a real local receiver, reads its secret
once, sends a test delivery and reads the delivery log, and sees a failing endpoint retrying.

Celery runs eagerly here (``eager_celery``), so a delivery queued by a page is sent as soon as its
transaction commits; the broker path has its own test (``tests/itom/test_webhooks_worker.py``)."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from itom.models import Notification, NotificationPreference, WebhookDelivery, WebhookEndpoint
from itom.notifications import notify
from itom.roles import AGENT
from itom.webhooks import verify
from tests.e2e.conftest import sign_in
from tests.factories import TeamFactory, UserFactory
from tests.itom import notifying

pytestmark = pytest.mark.browser

eager_celery = notifying.eager_celery
receiver = notifying.receiver
sample_events = notifying.sample_events


@pytest.fixture
def agent(transactional_db):
    return UserFactory(username="alice", first_name="Alice", last_name="Agent", roles=[AGENT])


def bell(page):
    return page.locator("#notification-bell")


def test_an_agent_reads_their_notifications_from_the_bell(page, agent, sample_events, eager_celery):
    team = TeamFactory(name="Network")
    notify("test.created", team, recipients=[agent], title="Network team created", body="By the directory sync.")
    notify("test.created", None, recipients=[agent], title="Printer on fire", body="Third floor.")
    notify("test.changed", None, recipients=[agent], title="Disk almost full", body="db01 at 91%.")
    someone = UserFactory(username="bob")
    notify("test.created", None, recipients=[someone], title="Bob's own news")

    sign_in(page, "alice")
    page.wait_for_url("/")
    expect(bell(page)).to_have_attribute("aria-label", "Notifications: 3 unread")
    expect(page.locator("#notification-count")).to_have_text("3")

    bell(page).click()
    expect(page).to_have_url("/notifications/")
    items = page.locator("#notification-items li.notification")
    expect(items).to_have_count(3)
    expect(page.locator("#notification-items")).not_to_contain_text("Bob's own news")
    disk = items.filter(has_text="Disk almost full")
    expect(disk).to_contain_text("Test thing changed")

    # Mark one read in place: the row changes and the bell follows, without a page load.
    disk.get_by_role("button", name="Mark read").click()
    expect(disk.get_by_role("button", name="Mark unread")).to_be_visible()
    expect(page.locator("#notification-count")).to_have_text("2")
    assert Notification.objects.get(title="Disk almost full").read_at is not None

    # Open one: it is marked read and its page opens.
    page.get_by_role("link", name="Network team created").click()
    expect(page).to_have_url(f"/teams/{team.pk}/")
    expect(page.locator("#notification-count")).to_have_text("1")

    page.goto("/notifications/")
    expect(items).to_have_count(1)
    page.get_by_role("link", name="All").click()
    expect(page.locator("#notification-items li.notification")).to_have_count(3)
    page.get_by_label("Search").fill("printer")
    expect(page.locator("#notification-items li.notification")).to_have_count(1)

    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("alert")).to_contain_text("Marked 1 notification read.")
    expect(page.locator("#notification-empty")).to_contain_text("all caught up")
    expect(page.locator("#notification-count")).to_have_count(0)
    assert not Notification.objects.filter(recipient=agent, read_at__isnull=True).exists()


def test_an_agent_turns_an_email_off_and_an_event_on(page, agent, sample_events, eager_celery):
    sign_in(page, "alice")
    page.wait_for_url("/")
    page.locator("#user-menu").click()
    page.get_by_role("link", name="Notification preferences").click()
    expect(page).to_have_url("/notifications/preferences/")

    created_email = page.get_by_label("Test thing created: E-mail")
    quiet_portal = page.get_by_label("Test thing archived: In the portal")
    expect(created_email).to_be_checked()
    expect(quiet_portal).not_to_be_checked()
    created_email.uncheck()
    quiet_portal.check()
    page.get_by_role("button", name="Save preferences").click()
    expect(page.get_by_role("alert")).to_contain_text("Saved your notification preferences.")
    expect(page.get_by_label("Test thing created: E-mail")).not_to_be_checked()
    expect(page.get_by_label("Test thing archived: In the portal")).to_be_checked()
    assert set(NotificationPreference.objects.filter(user=agent).values_list("event", "channel", "enabled")) == {
        ("test.created", "email", False),
        ("test.quiet", "in_app", True),
    }

    # What the preferences say is what arrives.
    mail.outbox.clear()
    notify("test.created", None, recipients=[agent], title="Created, portal only")
    notify("test.quiet", None, recipients=[agent], title="Archived, now shown")
    assert mail.outbox == []
    page.goto("/notifications/")
    expect(page.locator("#notification-items")).to_contain_text("Created, portal only")
    expect(page.locator("#notification-items")).to_contain_text("Archived, now shown")


def test_a_manager_sets_up_a_signed_webhook_tests_it_and_reads_the_log(
    page, signed_in_manager, receiver, sample_events, eager_celery
):
    hook = receiver()
    page.locator("#user-menu").click()
    page.get_by_role("link", name="Webhooks").click()
    expect(page).to_have_url("/notifications/webhooks/")
    page.get_by_role("link", name="Add webhook endpoint").click()
    page.get_by_label(re.compile(r"^Name")).fill("Ops bridge")
    page.get_by_label(re.compile(r"^URL")).fill("http://169.254.169.254/latest/")
    page.get_by_label(re.compile(r"^Kind")).select_option("json")
    page.get_by_label("Test thing created (test.created)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator("main")).to_contain_text("cloud metadata address")
    assert not WebhookEndpoint.objects.exists()

    page.get_by_label(re.compile(r"^URL")).fill(hook.url)
    page.get_by_role("button", name="Save").click()
    endpoint = WebhookEndpoint.objects.get(name="Ops bridge")
    expect(page).to_have_url(f"/notifications/webhooks/{endpoint.pk}/")
    secret = page.locator("#new-secret-value").inner_text()
    assert secret == endpoint.secret and len(secret) >= 40
    expect(page.locator("main")).to_contain_text("Test thing created")

    page.get_by_role("button", name="Send a test delivery").click()
    expect(page.get_by_role("alert")).to_contain_text("Queued a test delivery")
    expect(page.locator("#new-secret")).to_have_count(0)  # shown once only
    panel = page.locator("#recent-deliveries")
    expect(panel).to_contain_text("webhook.ping")
    expect(panel).to_contain_text("Succeeded")
    (request,) = hook.requests
    assert verify(secret, request.body, request.headers["x-itom-signature-256"])

    # An event the endpoint subscribed to reaches it too, and the log lists both.
    notify("test.created", None, title="Printer on fire")
    page.get_by_role("link", name="Deliveries").click()
    expect(page).to_have_url(f"/notifications/webhooks/{endpoint.pk}/deliveries/")
    rows = page.locator("#object-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("test.created")
    page.get_by_label("State").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#object-table")).to_contain_text("No webhook deliveries match.")

    page.goto(f"/notifications/webhooks/{endpoint.pk}/deliveries/")
    rows.filter(has_text="test.created").get_by_role("link").click()
    expect(page.locator("#delivery-state")).to_contain_text("Succeeded")
    expect(page.locator("#delivery-body")).to_contain_text('"title": "Printer on fire"')
    expect(page.locator("main")).to_contain_text("X-ITOM-Signature-256")


def test_a_failing_endpoint_shows_its_retries_and_can_be_redelivered(
    page, signed_in_manager, receiver, sample_events, eager_celery
):
    hook = receiver(default=500)
    endpoint = WebhookEndpoint.objects.create(name="Flaky", url=hook.url, secret="s3cret-for-tests")
    page.goto(f"/notifications/webhooks/{endpoint.pk}/")
    page.get_by_role("button", name="Send a test delivery").click()
    panel = page.locator("#recent-deliveries")
    expect(panel).to_contain_text("Retrying")
    panel.locator("tbody").get_by_role("link").first.click()
    expect(page.locator("#delivery-state")).to_contain_text("Retrying")
    expect(page.locator("#delivery-status")).to_contain_text("The receiver answered HTTP 500.")
    expect(page.locator("#delivery-status")).to_contain_text('{"received": false}')

    hook.default = 200
    page.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("alert")).to_contain_text("Queued delivery")
    expect(page.locator("#delivery-state")).to_contain_text("Succeeded")
    assert [r.status for r in hook.requests] == [500, 200]
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 2
