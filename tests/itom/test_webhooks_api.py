"""``/api/v1/notifications/webhooks/``: managers' CRUD, the write-only secret, the delivery log,
redelivery and the test ping (sent to a real local receiver)."""

import pytest
from django.urls import reverse

from itom.api.notifications import WebhookEndpointViewSet
from itom.choices import DeliveryState
from itom.models import WebhookDelivery, WebhookEndpoint
from itom.tasks import deliver_webhook
from tests.api_testing import APIEndpointTests
from tests.factories import WebhookEndpointFactory
from tests.itom import notifying

pytestmark = pytest.mark.django_db
receiver = notifying.receiver
sample_events = notifying.sample_events

LIST = "/api/v1/notifications/webhooks/"


def detail(endpoint, suffix=""):
    return f"{LIST}{endpoint.pk}/{suffix}"


class TestWebhookEndpointAPI(APIEndpointTests):
    viewset = WebhookEndpointViewSet
    url_name = "api:notification-webhook"
    make_object = staticmethod(lambda: WebhookEndpointFactory())
    create_data = {"name": "Ops bridge", "url": "https://hooks.example.com/itom", "kind": "json", "events": []}
    update_data = {"active": False}
    invalid_data = {"url": "ftp://hooks.example.com/itom"}
    readers = ("maria", "root")
    writers = ("maria", "root")


def test_agents_and_viewers_cannot_see_webhooks_at_all(alice_api, victor_api):
    endpoint = WebhookEndpointFactory()
    for client in (alice_api, victor_api):
        assert client.get(LIST).status_code == 403
        assert client.get(detail(endpoint, "deliveries/")).status_code == 403
        assert client.post(detail(endpoint, "test/")).status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_the_secret_is_write_only_and_a_json_endpoint_gets_a_generated_one(maria_api):
    response = maria_api.post(LIST, {"name": "Ops", "url": "http://127.0.0.1:9/x"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    endpoint = WebhookEndpoint.objects.get(pk=body["id"])
    assert body["secret"] == endpoint.secret and len(endpoint.secret) >= 40
    assert body["has_secret"] is True and body["kind"] == "json"
    read = maria_api.get(detail(endpoint)).json()
    assert "secret" not in read and read["has_secret"] is True
    listed = maria_api.get(LIST).json()["results"][0]
    assert "secret" not in listed

    # setting a secret returns it once; a write that leaves it alone does not
    response = maria_api.patch(detail(endpoint), {"secret": "chosen-secret-value"}, format="json")
    assert response.json()["secret"] == "chosen-secret-value"
    response = maria_api.patch(detail(endpoint), {"name": "Ops bridge"}, format="json")
    assert "secret" not in response.json()
    endpoint.refresh_from_db()
    assert endpoint.secret == "chosen-secret-value"


def test_the_secret_stays_out_of_the_audit_trail(maria_api):
    from itom.models import ObjectChange

    response = maria_api.post(
        LIST, {"name": "Ops", "url": "http://127.0.0.1:9/x", "secret": "top-secret"}, format="json"
    )
    change = ObjectChange.objects.get(object_id=str(response.json()["id"]), content_type__model="webhookendpoint")
    assert "secret" not in change.postchange_data and "top-secret" not in str(change.postchange_data)


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "url", "cloud metadata address"),
        ({"url": "http://[fd00:ec2::254]/"}, "url", "cloud metadata address"),
        ({"url": "gopher://x/"}, "url", ""),
        ({"events": ["no.such.event"]}, "events", "Unknown event"),
        ({"events": "test.created"}, "events", ""),
        ({"kind": "sms"}, "kind", ""),
        ({"name": ""}, "name", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_the_reason(maria_api, sample_events, data, field, reason):
    payload = {"name": "Ops", "url": "http://127.0.0.1:9/x", "events": ["test.created"], **data}
    response = maria_api.post(LIST, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert reason in str(response.json()[field])
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_can_subscribe_to_registered_events(maria_api, sample_events):
    payload = {
        "name": "Chat",
        "url": "http://127.0.0.1:9/x",
        "kind": "chat",
        "events": ["test.created", "test.changed"],
    }
    response = maria_api.post(LIST, payload, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["events"] == ["test.changed", "test.created"]
    assert "secret" not in response.json()  # a chat endpoint gets no generated secret


def test_the_delivery_log_lists_newest_first_with_filters_and_bounded_queries(maria_api, django_assert_max_num_queries):
    endpoint = WebhookEndpointFactory()
    other = WebhookEndpointFactory()
    for state in ["succeeded", "failed", "retrying"] * 10:
        WebhookDelivery.objects.create(endpoint=endpoint, event="test.created", payload={"n": 1}, state=state)
    WebhookDelivery.objects.create(endpoint=other, event="test.created", payload={}, state="failed")
    with django_assert_max_num_queries(10):
        body = maria_api.get(detail(endpoint, "deliveries/"), {"page_size": 25}).json()
    assert body["count"] == 30 and len(body["results"]) == 25
    ids = [row["id"] for row in body["results"]]
    assert ids == sorted(ids, reverse=True)
    assert set(body["results"][0]) >= {"event", "state", "attempts", "response_status", "error", "payload"}
    failed = maria_api.get(detail(endpoint, "deliveries/"), {"state": "failed"}).json()
    assert failed["count"] == 10 and {row["state"] for row in failed["results"]} == {"failed"}
    assert maria_api.get(detail(endpoint, "deliveries/"), {"state": "lost"}).status_code == 400


def test_one_delivery_and_its_redelivery(maria_api):
    endpoint = WebhookEndpointFactory()
    delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="test.created", payload={"a": 1}, state="failed")
    assert maria_api.get(detail(endpoint, f"deliveries/{delivery.pk}/")).json()["payload"] == {"a": 1}
    other = WebhookEndpointFactory()
    assert maria_api.get(detail(other, f"deliveries/{delivery.pk}/")).status_code == 404

    response = maria_api.post(detail(endpoint, f"deliveries/{delivery.pk}/redeliver/"))
    assert response.status_code == 202
    copy = WebhookDelivery.objects.get(pk=response.json()["id"])
    assert copy.payload == {"a": 1} and copy.state == DeliveryState.PENDING and copy.endpoint == endpoint
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.FAILED


def test_the_test_action_queues_a_ping_that_reaches_the_receiver_signed(
    maria_api, maria, receiver, django_capture_on_commit_callbacks
):
    hook = receiver(secret="s3cret-for-tests")
    endpoint = WebhookEndpointFactory(url=hook.url, secret="s3cret-for-tests", active=False)
    with django_capture_on_commit_callbacks() as callbacks:
        response = maria_api.post(detail(endpoint, "test/"))
    assert response.status_code == 202
    assert response.json()["event"] == "webhook.ping" and response.json()["state"] == "pending"
    assert len(callbacks) == 1  # handed to Celery once the request's transaction committed

    assert deliver_webhook.apply(args=[response.json()["id"]]).get() == DeliveryState.SUCCEEDED
    (request,) = hook.requests
    assert request.signature_ok is True
    assert request.json()["event"] == "webhook.ping"
    assert request.json()["actor"]["username"] == "maria"
    log = maria_api.get(detail(endpoint, "deliveries/")).json()["results"]
    assert log[0]["state"] == "succeeded" and log[0]["response_status"] == 200


def test_a_read_only_token_cannot_send_a_test(maria, make_api_client):
    endpoint = WebhookEndpointFactory()
    client = make_api_client(maria, write=False)
    assert client.get(detail(endpoint, "deliveries/")).status_code == 200
    assert client.post(detail(endpoint, "test/")).status_code == 403
    assert not WebhookDelivery.objects.exists()


def test_the_list_shows_each_endpoints_last_delivery(maria_api):
    endpoint = WebhookEndpointFactory(name="A")
    WebhookEndpointFactory(name="B")
    WebhookDelivery.objects.create(endpoint=endpoint, event="x.y", payload={}, state="succeeded")
    WebhookDelivery.objects.create(endpoint=endpoint, event="x.y", payload={}, state="failed")
    rows = {row["name"]: row for row in maria_api.get(LIST).json()["results"]}
    assert rows["A"]["last_delivery_state"] == "failed" and rows["A"]["last_delivery_at"]
    assert rows["B"]["last_delivery_state"] is None


def test_the_api_root_links_the_notification_resources(maria_api):
    body = maria_api.get("/api/v1/").json()
    assert body["notifications"].endswith("/api/v1/notifications/")
    assert body["notifications/webhooks"].endswith("/api/v1/notifications/webhooks/")
    assert body["notifications/preferences"].endswith("/api/v1/notifications/preferences/")
    assert reverse("api:notification-preferences") == "/api/v1/notifications/preferences/"
