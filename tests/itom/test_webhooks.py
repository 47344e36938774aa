"""``itom.webhooks``: signing, where webhooks may go, what is sent, and delivery with bounded
exponential-backoff retries — against a real local HTTP receiver that checks the signature."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from itom import webhooks
from itom.choices import DeliveryState
from itom.models import WebhookDelivery
from itom.notifications import notify
from itom.tasks import deliver_webhook, requeue_stalled_webhooks
from tests.factories import WebhookEndpointFactory
from tests.itom import notifying
from tests.itom.webhook_receiver import closed_port

pytestmark = pytest.mark.django_db
eager_celery = notifying.eager_celery
receiver = notifying.receiver
sample_events = notifying.sample_events

SECRET = "s3cret-for-tests"


def queued(endpoint, event="test.created", payload=None):
    return WebhookDelivery.objects.create(
        endpoint=endpoint, event=event, payload=payload or {"event": event, "title": "Hello", "url": None}
    )


# --- Signing ---------------------------------------------------------------------------------------


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body():
    body = b'{"event":"incident.created"}'
    expected = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert webhooks.sign("key", body) == f"sha256={expected}"
    assert webhooks.verify("key", body, f"sha256={expected}")
    assert not webhooks.verify("key", body + b" ", f"sha256={expected}")
    assert not webhooks.verify("other", body, f"sha256={expected}")
    assert not webhooks.verify("", body, webhooks.sign("", body))
    assert not webhooks.verify("key", body, None)


def test_generated_secrets_are_long_and_different():
    first, second = webhooks.generate_secret(), webhooks.generate_secret()
    assert len(first) >= 40 and first != second


# --- Where webhooks may go ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("http:///nohost", "host name"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata address"),
        ("http://169.254.0.1:8080/", "cloud metadata address"),
        ("http://[fd00:ec2::254]/", "cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "cloud metadata address"),
    ],
)
def test_urls_that_webhooks_may_not_call_are_refused_when_saved(url, reason):
    with pytest.raises(ValidationError, match=reason):
        webhooks.validate_url(url)


def test_a_name_that_resolves_to_a_metadata_address_is_refused(monkeypatch):
    def resolver(host, port, **kwargs):
        return [(2, 1, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", resolver)
    with pytest.raises(ValidationError, match=r"169\.254\.169\.254 is a cloud metadata address"):
        webhooks.validate_url("http://metadata.internal/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/hook",
        "https://hooks.slack.com/services/T0/B0/x",
        "http://localhost/x",
        "http://10.0.0.5/",
    ],
)
def test_ordinary_addresses_are_accepted(url):
    webhooks.validate_url(url)


def test_an_operator_may_allow_metadata_addresses(settings):
    settings.WEBHOOK_ALLOW_METADATA_ADDRESSES = True
    webhooks.validate_url("http://169.254.169.254/")


def test_endpoint_events_must_be_registered_events(sample_events):
    assert webhooks.validate_events(["test.created", "test.created", "test.changed"]) == [
        "test.changed",
        "test.created",
    ]
    assert webhooks.validate_events([]) == []
    with pytest.raises(ValidationError, match="Unknown event"):
        webhooks.validate_events(["test.created", "nope.never"])
    with pytest.raises(ValidationError, match="list of event names"):
        webhooks.validate_events("test.created")


def test_saving_a_json_endpoint_without_a_secret_generates_one(sample_events):
    from itom.models import WebhookEndpoint

    endpoint = webhooks.save_endpoint(WebhookEndpoint(name="Ops", url="http://127.0.0.1:9/x", events=["test.created"]))
    assert len(endpoint.secret) >= 40
    chat = webhooks.save_endpoint(WebhookEndpoint(name="Chat", url="http://127.0.0.1:9/y", kind="chat"))
    assert chat.secret == ""
    with pytest.raises(ValidationError) as refused:
        webhooks.save_endpoint(WebhookEndpoint(name="Bad", url="http://169.254.169.254/", events=["nope.never"]))
    assert set(refused.value.message_dict) == {"url", "events"}


# --- What is sent ------------------------------------------------------------------------------------


def test_a_chat_message_is_a_slack_compatible_text_with_the_title_body_and_link():
    payload = {"title": "INC1 <b> & co", "body": "Line\n" + "x" * 2000, "url": "https://itom.example.com/i/1/"}
    text = webhooks.chat_text(payload)
    lines = text.split("\n")
    assert lines[0] == "*INC1 &lt;b&gt; &amp; co*"
    assert lines[-1] == "https://itom.example.com/i/1/"
    assert len(text) < 1700 and "…" in text
    endpoint = WebhookEndpointFactory(kind="chat")
    assert json.loads(webhooks.render_body(endpoint, payload)) == {"text": text}


# --- Delivery against a real receiver -----------------------------------------------------------------


def test_a_json_delivery_is_signed_and_carries_the_event_and_delivery_headers(receiver):
    hook = receiver(secret=SECRET)
    endpoint = WebhookEndpointFactory(url=hook.url, secret=SECRET)
    delivery = queued(endpoint, payload={"event": "test.created", "title": "Ünïcode ✓", "url": None})

    outcome = webhooks.attempt(delivery.pk)

    assert outcome.state == DeliveryState.SUCCEEDED and outcome.retry_in is None
    (request,) = hook.requests
    assert request.method == "POST" and request.path == "/hook"
    assert request.signature_ok is True
    assert request.headers["x-itom-event"] == "test.created"
    assert request.headers["x-itom-delivery"] == str(delivery.pk)
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["host"] == f"127.0.0.1:{hook.port}"
    assert request.json()["title"] == "Ünïcode ✓"
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.response_status == 200
    assert delivery.response_body == '{"received": true}'
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert delivery.error == ""


def test_a_host_name_is_sent_to_the_checked_address_with_its_host_header(receiver):
    hook = receiver(secret=SECRET)
    endpoint = WebhookEndpointFactory(url=f"http://localhost:{hook.port}/hook", secret=SECRET)
    assert webhooks.attempt(queued(endpoint).pk).state == DeliveryState.SUCCEEDED
    assert hook.requests[0].headers["host"] == f"localhost:{hook.port}"


def test_a_chat_delivery_posts_the_text_message(receiver):
    hook = receiver()
    endpoint = WebhookEndpointFactory(url=hook.url, kind="chat", secret="")
    delivery = queued(endpoint, payload={"title": "INC0000042 assigned to you", "body": "", "url": "https://x/i/42/"})
    assert webhooks.attempt(delivery.pk).state == DeliveryState.SUCCEEDED
    (request,) = hook.requests
    assert request.json() == {"text": "*INC0000042 assigned to you*\nhttps://x/i/42/"}
    assert "x-itom-signature-256" not in request.headers


def test_failed_attempts_are_retried_with_exponential_backoff_until_one_succeeds(receiver, settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.WEBHOOK_MAX_ATTEMPTS = 5
    hook = receiver(secret=SECRET, statuses=[500, 503, 429])
    endpoint = WebhookEndpointFactory(url=hook.url, secret=SECRET)
    delivery = queued(endpoint)
    now = timezone.now()

    waits = []
    for _ in range(3):
        outcome = webhooks.attempt(delivery.pk, now=now)
        delivery.refresh_from_db()
        assert outcome.state == delivery.state == DeliveryState.RETRYING
        assert delivery.next_attempt_at == now + timedelta(seconds=outcome.retry_in)
        assert delivery.error == f"The receiver answered HTTP {delivery.response_status}."
        # not due yet: a task arriving early sends nothing
        assert webhooks.attempt(delivery.pk, now=now + timedelta(seconds=outcome.retry_in - 10)) is None
        waits.append(outcome.retry_in)
        now += timedelta(seconds=outcome.retry_in)

    outcome = webhooks.attempt(delivery.pk, now=now)
    delivery.refresh_from_db()
    assert waits == [30, 60, 120]
    assert outcome.state == delivery.state == DeliveryState.SUCCEEDED
    assert delivery.attempts == 4 and delivery.response_status == 200 and delivery.error == ""
    assert [r.status for r in hook.requests] == [500, 503, 429, 200]
    assert all(r.signature_ok for r in hook.requests)
    assert len({r.headers["x-itom-delivery"] for r in hook.requests}) == 1
    assert len({r.body for r in hook.requests}) == 1  # the same signed body on every attempt


def test_a_permanently_failing_endpoint_stops_after_the_bounded_number_of_attempts(receiver, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    settings.WEBHOOK_BACKOFF_SECONDS = 10
    hook = receiver(secret=SECRET, default=500)
    delivery = queued(WebhookEndpointFactory(url=hook.url, secret=SECRET))
    now = timezone.now()
    states = []
    for _ in range(5):
        outcome = webhooks.attempt(delivery.pk, now=now)
        states.append(outcome and outcome.state)
        now += timedelta(hours=1)
    delivery.refresh_from_db()
    assert states == ["retrying", "retrying", "failed", None, None]
    assert len(hook.requests) == 3
    assert delivery.state == DeliveryState.FAILED
    assert delivery.attempts == 3
    assert delivery.next_attempt_at is None
    assert delivery.response_status == 500


def test_the_backoff_doubles_and_is_capped(settings):
    settings.WEBHOOK_BACKOFF_SECONDS = 30
    settings.WEBHOOK_BACKOFF_MAX_SECONDS = 200
    assert [webhooks.backoff(n) for n in range(1, 6)] == [30, 60, 120, 200, 200]


def test_a_refused_connection_is_retried_and_recorded(settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    delivery = queued(WebhookEndpointFactory(url=f"http://127.0.0.1:{closed_port()}/hook"))
    outcome = webhooks.attempt(delivery.pk)
    assert outcome.state == DeliveryState.RETRYING and outcome.response_status is None
    assert outcome.error.startswith("ConnectError")
    outcome = webhooks.attempt(delivery.pk, now=timezone.now() + timedelta(hours=1))
    assert outcome.state == DeliveryState.FAILED


def test_redirects_are_not_followed(receiver):
    target = receiver()
    hook = receiver(statuses=[302], redirect_to=target.url)
    outcome = webhooks.attempt(queued(WebhookEndpointFactory(url=hook.url)).pk)
    assert outcome.state == DeliveryState.RETRYING and outcome.response_status == 302
    assert target.requests == []


def test_an_address_refused_at_send_time_fails_at_once_without_a_request(receiver):
    hook = receiver()
    endpoint = WebhookEndpointFactory(url=hook.url)
    delivery = queued(endpoint)
    # the URL was changed behind the checks (e.g. in the database): the send-time check still holds
    type(endpoint).objects.filter(pk=endpoint.pk).update(url="http://169.254.169.254/latest/")
    outcome = webhooks.attempt(delivery.pk)
    assert outcome.state == DeliveryState.FAILED
    assert "cloud metadata address" in outcome.error
    assert hook.requests == []


def test_a_delivery_to_a_deactivated_endpoint_fails_without_a_request_but_a_test_ping_is_sent(receiver):
    hook = receiver()
    endpoint = WebhookEndpointFactory(url=hook.url, active=False)
    assert webhooks.attempt(queued(endpoint).pk).state == DeliveryState.FAILED
    assert hook.requests == []
    ping = webhooks.send_test(endpoint)
    assert webhooks.attempt(ping.pk).state == DeliveryState.SUCCEEDED
    assert hook.requests[0].json()["event"] == "webhook.ping"


def test_only_one_worker_wins_an_attempt(receiver):
    hook = receiver()
    delivery = queued(WebhookEndpointFactory(url=hook.url))
    now = timezone.now()
    # a worker claims the attempt (and then dies before recording anything)
    claimed = WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=1, next_attempt_at=now + timedelta(seconds=70)
    )
    assert claimed == 1
    assert webhooks.attempt(delivery.pk, now=now) is None
    assert hook.requests == []


def test_nothing_happens_for_a_delivery_that_is_gone_or_finished(receiver):
    hook = receiver()
    delivery = queued(WebhookEndpointFactory(url=hook.url), event="test.created")
    WebhookDelivery.objects.filter(pk=delivery.pk).update(state=DeliveryState.SUCCEEDED)
    assert webhooks.attempt(delivery.pk) is None
    assert webhooks.attempt(999_999) is None
    assert deliver_webhook.apply(args=[999_999]).get() is None
    assert hook.requests == []


# --- The task and the dead-worker sweep -------------------------------------------------------------


def test_the_task_delivers_and_queues_the_retry_after_the_backoff(
    receiver, sample_events, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.WEBHOOK_BACKOFF_SECONDS = 45
    hook = receiver(secret=SECRET, statuses=[500])
    WebhookEndpointFactory(url=hook.url, secret=SECRET)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify("test.created", None)
    delivery = WebhookDelivery.objects.get()
    # the first attempt ran (500) and queued the next one, which is not due for 45 s: it did nothing
    assert len(callbacks) == 2
    assert delivery.state == DeliveryState.RETRYING and delivery.attempts == 1
    assert [r.status for r in hook.requests] == [500]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliver_webhook.apply(args=[delivery.pk]).get() == DeliveryState.SUCCEEDED
    assert [r.status for r in hook.requests] == [500, 200]


def test_deliveries_a_dead_worker_left_behind_are_queued_again(
    receiver, eager_celery, django_capture_on_commit_callbacks
):
    hook = receiver()
    endpoint = WebhookEndpointFactory(url=hook.url)
    now = timezone.now()
    lost_new = queued(endpoint)  # its task never ran (broker down at commit)
    lost_claim = queued(endpoint)  # a worker claimed it and died
    fresh = queued(endpoint)  # just queued: its task is on the way
    waiting = queued(endpoint)  # retrying later, as planned
    done = queued(endpoint)
    WebhookDelivery.objects.filter(pk=lost_new.pk).update(created_at=now - timedelta(minutes=10))
    WebhookDelivery.objects.filter(pk=lost_claim.pk).update(
        attempts=1, next_attempt_at=now - timedelta(minutes=6), created_at=now - timedelta(minutes=20)
    )
    WebhookDelivery.objects.filter(pk=waiting.pk).update(
        state=DeliveryState.RETRYING, attempts=1, next_attempt_at=now + timedelta(minutes=3)
    )
    WebhookDelivery.objects.filter(pk=done.pk).update(
        state=DeliveryState.SUCCEEDED, created_at=now - timedelta(hours=1)
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert requeue_stalled_webhooks.apply().get() == 2
    states = dict(WebhookDelivery.objects.values_list("pk", "state"))
    assert states[lost_new.pk] == states[lost_claim.pk] == DeliveryState.SUCCEEDED
    assert states[fresh.pk] == DeliveryState.PENDING and states[waiting.pk] == DeliveryState.RETRYING
    assert sorted(int(r.headers["x-itom-delivery"]) for r in hook.requests) == sorted([lost_new.pk, lost_claim.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert webhooks.requeue_stalled() == 0


def test_redelivering_queues_a_copy_and_keeps_the_original(receiver):
    hook = receiver(statuses=[500], secret=SECRET)
    endpoint = WebhookEndpointFactory(url=hook.url, secret=SECRET)
    original = queued(endpoint)
    webhooks.attempt(original.pk)
    copy = webhooks.redeliver(original)
    assert copy.pk != original.pk and copy.payload == original.payload and copy.state == DeliveryState.PENDING
    assert webhooks.attempt(copy.pk).state == DeliveryState.SUCCEEDED
    original.refresh_from_db()
    assert original.state == DeliveryState.RETRYING
