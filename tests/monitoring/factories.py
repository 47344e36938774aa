"""Factories of the monitoring tests: bare rows, for tests that need a check, an alert, a
maintenance window, an integration or a metric rule to exist. Use ``monitoring.services`` to make
them the way the product does (validation, audit, side effects).

- ``CheckFactory``: a TCP check on 127.0.0.1 of a new CI, in the seeded ``default`` zone;
- ``AlertFactory``: a firing alert with its own fingerprint (no incident);
- ``MaintenanceWindowFactory``: a one-off window running now for an hour (``cis=[…]``,
  ``ci_classes=[…]``, ``tags=[…]`` to say what it covers; ``weekly=True`` traits a weekly one);
- ``IntegrationFactory``: an integration whose working token is its ``plain_token``;
- ``MetricRuleFactory``: a threshold rule "above 90 for 5 minutes".
"""

import hashlib
from datetime import time, timedelta

import factory
from django.utils import timezone

from tests.factories import CIFactory


def default_zone():
    """The zone every check starts in (seeded by monitoring/migrations/0002_default_zone.py; made
    again after a transactional test flushed it)."""
    from monitoring.models import Zone

    defaults = {"description": "Polled by the portal's own workers."}
    zone, _ = Zone.objects.get_or_create(name="default", defaults=defaults)
    return zone


class ZoneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "monitoring.Zone"
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"zone-{n}")


class CheckFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "monitoring.Check"

    name = factory.Sequence(lambda n: f"Check {n}")
    ci = factory.SubFactory(CIFactory)
    kind = "tcp"
    target = "127.0.0.1"
    port = factory.Sequence(lambda n: 20000 + n % 40000)
    zone = factory.LazyFunction(default_zone)
    interval = 60
    timeout = 5


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "monitoring.Alert"

    fingerprint = factory.Sequence(lambda n: f"test:{n}")
    source = "events"
    name = factory.Sequence(lambda n: f"Alert {n}")
    severity = "major"
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyAttribute(lambda a: a.first_seen)


class MaintenanceWindowFactory(factory.django.DjangoModelFactory):
    """A one-off window from a minute ago for an hour. ``cis``, ``ci_classes`` and ``tags`` (CI
    objects, CIClass objects, Tag objects or tag names) say what it covers."""

    class Meta:
        model = "monitoring.MaintenanceWindow"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Maintenance {n}")
    recurrence = "once"
    start = factory.LazyFunction(lambda: timezone.now() - timedelta(minutes=1))
    end = factory.LazyAttribute(lambda w: w.start + timedelta(hours=1) if w.recurrence == "once" else None)

    class Params:
        weekly = factory.Trait(
            recurrence="weekly",
            start=factory.LazyFunction(lambda: timezone.now() - timedelta(days=30)),
            weekdays=[0, 1, 2, 3, 4, 5, 6],
            start_time=time(2, 0),
            duration_minutes=60,
        )

    @factory.post_generation
    def cis(self, create, extracted, **kwargs):
        if create and extracted:
            self.cis.add(*extracted)

    @factory.post_generation
    def ci_classes(self, create, extracted, **kwargs):
        if create and extracted:
            self.ci_classes.add(*extracted)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            from cmdb.services import tags_named

            self.tags.add(*tags_named(extracted))


def integration_token(prefix):
    """The token ``IntegrationFactory`` gives the integration of ``prefix`` (the scheme of
    ``monitoring.services.integrations``: ``itomi_<prefix>_<secret>``)."""
    from monitoring.services.integrations import KEY_LABEL

    return f"{KEY_LABEL}_{prefix}_test-secret-{prefix}"


class IntegrationFactory(factory.django.DjangoModelFactory):
    """An integration row with a working token, kept on the instance as ``plain_token``
    (``monitoring.services.integrations.create_integration`` makes one the product's way)."""

    class Meta:
        model = "monitoring.Integration"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Integration {n}")
    kind = "alertmanager"
    token_prefix = factory.Sequence(lambda n: f"f{n:07x}")
    token_hash = factory.LazyAttribute(lambda i: hashlib.sha256(integration_token(i.token_prefix).encode()).hexdigest())

    @factory.post_generation
    def plain_token(self, create, extracted, **kwargs):
        self.plain_token = integration_token(self.token_prefix)


class MetricRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "monitoring.MetricRule"

    name = factory.Sequence(lambda n: f"Rule {n}")
    metric = "cpu.percent"
    kind = "threshold"
    operator = "above"
    threshold = 90.0
    for_minutes = 5
