"""The webhook pages (managers only): list, add/edit with the secret shown once, the detail page with
its test button, the delivery log and a delivery's page with redelivery; and the admin."""

import pytest

from itom.choices import DeliveryState
from itom.models import ObjectChange, WebhookDelivery, WebhookEndpoint
from tests.factories import WebhookEndpointFactory
from tests.itom import notifying

pytestmark = pytest.mark.django_db
eager_celery = notifying.eager_celery
receiver = notifying.receiver
sample_events = notifying.sample_events


@pytest.fixture
def endpoint():
    return WebhookEndpointFactory(name="Ops bridge", url="http://127.0.0.1:9/hook")


def test_webhook_pages_are_for_managers_only(client, people, endpoint):
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="x.y", payload={})
    urls = [
        "/notifications/webhooks/",
        "/notifications/webhooks/add/",
        f"/notifications/webhooks/{endpoint.pk}/",
        f"/notifications/webhooks/{endpoint.pk}/edit/",
        f"/notifications/webhooks/{endpoint.pk}/delete/",
        f"/notifications/webhooks/{endpoint.pk}/history/",
        f"/notifications/webhooks/{endpoint.pk}/deliveries/",
        f"/notifications/webhooks/{endpoint.pk}/recent/",
        f"/notifications/webhooks/deliveries/{delivery.pk}/",
    ]
    for name in ("alice", "victor"):
        client.force_login(people[name])
        for url in urls:
            assert client.get(url).status_code == 403, (name, url)
        assert client.post(f"/notifications/webhooks/{endpoint.pk}/test/").status_code == 403
        assert client.post(f"/notifications/webhooks/deliveries/{delivery.pk}/redeliver/").status_code == 403
    assert WebhookDelivery.objects.count() == 1
    client.force_login(people["maria"])
    for url in urls:
        assert client.get(url).status_code == 200, url
    client.logout()
    assert client.get(urls[0]).status_code == 302


def test_the_subnav_offers_webhooks_to_managers_only(client, alice, maria):
    client.force_login(alice)
    assert "/notifications/webhooks/" not in client.get("/notifications/").content.decode()
    client.force_login(maria)
    assert "/notifications/webhooks/" in client.get("/notifications/").content.decode()


def test_the_list_shows_each_endpoint_and_its_last_delivery(maria_client, endpoint, django_assert_max_num_queries):
    for i in range(30):
        other = WebhookEndpointFactory(name=f"Endpoint {i:02d}", events=["x.y"])
        WebhookDelivery.objects.create(endpoint=other, event="x.y", payload={}, state="failed")
    with django_assert_max_num_queries(10):
        page = maria_client.get("/notifications/webhooks/").content.decode()
    assert "Ops bridge" in page and "All events" in page and "Failed" in page
    assert f'href="/notifications/webhooks/{endpoint.pk}/"' in page


def test_a_manager_adds_a_json_endpoint_and_sees_its_generated_secret_once(maria_client, sample_events):
    response = maria_client.post(
        "/notifications/webhooks/add/",
        {"name": "Ops", "url": "http://127.0.0.1:9/hook", "kind": "json", "events": ["test.created"], "active": "on"},
    )
    endpoint = WebhookEndpoint.objects.get(name="Ops")
    assert response.status_code == 302 and response["Location"] == f"/notifications/webhooks/{endpoint.pk}/"
    assert endpoint.events == ["test.created"] and len(endpoint.secret) >= 40
    page = maria_client.get(response["Location"])
    assert endpoint.secret in page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert endpoint.secret not in maria_client.get(response["Location"]).content.decode()
    assert ObjectChange.objects.filter(object_id=str(endpoint.pk), content_type__model="webhookendpoint").exists()


def test_editing_keeps_the_secret_unless_a_new_one_is_asked_for(maria_client, endpoint):
    url = f"/notifications/webhooks/{endpoint.pk}/edit/"
    form = maria_client.get(url).content.decode()
    assert endpoint.secret not in form  # never shown back
    data = {"name": "Ops bridge", "url": endpoint.url, "kind": "json", "active": "on"}
    maria_client.post(url, data)
    endpoint.refresh_from_db()
    assert endpoint.secret == "s3cret-for-tests"
    maria_client.post(url, {**data, "secret": "a-new-chosen-one"})
    endpoint.refresh_from_db()
    assert endpoint.secret == "a-new-chosen-one"
    maria_client.post(url, {**data, "new_secret": "on"})
    endpoint.refresh_from_db()
    assert endpoint.secret not in ("a-new-chosen-one", "") and len(endpoint.secret) >= 40


def test_the_form_refuses_metadata_addresses_and_other_schemes(maria_client):
    for url, reason in [
        ("http://169.254.169.254/latest/", "cloud metadata address"),
        ("ftp://example.com/x", "Use an http:// or https:// URL."),
        ("not a url", "Enter a valid URL"),
    ]:
        response = maria_client.post("/notifications/webhooks/add/", {"name": "Bad", "url": url, "kind": "json"})
        assert response.status_code == 200
        assert reason in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_the_test_button_sends_a_ping_and_the_detail_page_shows_the_outcome(
    maria_client, receiver, eager_celery, django_capture_on_commit_callbacks
):
    hook = receiver(secret="s3cret-for-tests")
    endpoint = WebhookEndpointFactory(name="Receiver", url=hook.url)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = maria_client.post(f"/notifications/webhooks/{endpoint.pk}/test/")
    assert len(callbacks) == 1  # the delivery went to Celery once the request committed
    page = maria_client.get(response["Location"]).content.decode()
    assert "Queued a test delivery" in page
    assert "webhook.ping" in page and "Succeeded" in page
    assert hook.requests[0].signature_ok is True
    assert 'hx-trigger="every 3s"' not in page  # nothing left open: no polling


def test_an_open_delivery_makes_the_panel_poll(maria_client, endpoint):
    WebhookDelivery.objects.create(endpoint=endpoint, event="x.y", payload={}, state=DeliveryState.RETRYING)
    page = maria_client.get(f"/notifications/webhooks/{endpoint.pk}/").content.decode()
    assert 'hx-trigger="every 3s"' in page and "Retrying" in page
    panel = maria_client.get(f"/notifications/webhooks/{endpoint.pk}/recent/").content.decode()
    assert 'id="recent-deliveries"' in panel and "<html" not in panel


def test_the_delivery_log_filters_by_state_with_bounded_queries(maria_client, endpoint, django_assert_max_num_queries):
    for state in ["succeeded", "failed"] * 30:
        WebhookDelivery.objects.create(endpoint=endpoint, event="test.created", payload={}, state=state, attempts=1)
    with django_assert_max_num_queries(10):
        page = maria_client.get(f"/notifications/webhooks/{endpoint.pk}/deliveries/", {"state": "failed"})
    text = page.content.decode()
    assert text.count("text-bg-danger") == 30 and "text-bg-success" not in text
    csv = maria_client.get(f"/notifications/webhooks/{endpoint.pk}/deliveries/", {"export": "csv"})
    assert b"".join(csv.streaming_content).decode().count("\n") == 61


def test_a_delivery_page_shows_the_request_and_answer_and_redelivers(maria_client, endpoint):
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event="test.created",
        payload={"event": "test.created", "title": "Printer on fire"},
        state=DeliveryState.FAILED,
        attempts=5,
        response_status=500,
        response_body="upstream exploded",
        error="The receiver answered HTTP 500.",
    )
    page = maria_client.get(f"/notifications/webhooks/deliveries/{delivery.pk}/").content.decode()
    for text in ("Printer on fire", "upstream exploded", "HTTP 500", "X-ITOM-Signature-256", "Failed"):
        assert text in page
    response = maria_client.post(f"/notifications/webhooks/deliveries/{delivery.pk}/redeliver/")
    copy = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert response["Location"] == f"/notifications/webhooks/deliveries/{copy.pk}/"
    assert copy.payload == delivery.payload and copy.state == DeliveryState.PENDING


def test_deleting_an_endpoint_takes_its_log_with_it(maria_client, endpoint):
    WebhookDelivery.objects.create(endpoint=endpoint, event="x.y", payload={})
    response = maria_client.post(f"/notifications/webhooks/{endpoint.pk}/delete/")
    assert response.status_code == 302 and response["Location"] == "/notifications/webhooks/"
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_the_admin_lists_endpoints_deliveries_and_notifications(maria_client, endpoint, maria, sample_events):
    from itom.models import Notification

    WebhookDelivery.objects.create(endpoint=endpoint, event="x.y", payload={})
    Notification.objects.create(recipient=maria, event="test.created", title="Hello")
    for url in (
        "/admin/itom/webhookendpoint/",
        f"/admin/itom/webhookendpoint/{endpoint.pk}/change/",
        "/admin/itom/webhookendpoint/add/",
        "/admin/itom/webhookdelivery/",
        "/admin/itom/notification/",
        "/admin/itom/notificationpreference/",
    ):
        assert maria_client.get(url).status_code == 200, url
    change_page = maria_client.get(f"/admin/itom/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in change_page
    response = maria_client.post(
        "/admin/itom/webhookendpoint/add/",
        {"name": "From admin", "url": "http://169.254.169.254/", "kind": "json", "active": "on"},
    )
    assert "cloud metadata address" in response.content.decode()
    maria_client.post(
        "/admin/itom/webhookendpoint/add/",
        {"name": "From admin", "url": "http://127.0.0.1:9/x", "kind": "json", "active": "on"},
    )
    assert len(WebhookEndpoint.objects.get(name="From admin").secret) >= 40
    maria_client.post(
        "/admin/itom/webhookdelivery/",
        {"action": "redeliver", "_selected_action": [WebhookDelivery.objects.first().pk]},
    )
    assert WebhookDelivery.objects.count() == 2
