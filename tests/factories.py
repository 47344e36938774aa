import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from accounts.models import Team

PASSWORD = "correct-horse-battery-9"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Team {n}")
    email = factory.LazyAttribute(lambda t: f"{t.name.lower().replace(' ', '-')}@example.com")

    @factory.post_generation
    def members(self, create, extracted, **kwargs):
        if create and extracted:
            self.members.add(*extracted)


class CIClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cmdb.CIClass"
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Class {n}")
    slug = factory.LazyAttribute(lambda c: c.name.lower().replace(" ", "-"))


def ci_class(slug):
    """A class of the seeded catalogue (cmdb/migrations/0002_catalogue.py), by slug."""
    from cmdb.models import CIClass

    return CIClass.objects.get(slug=slug)


class CIFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cmdb.CI"
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"ci-{n:04d}")
    ci_class = factory.LazyFunction(lambda: ci_class("application"))

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if create and extracted:
            from cmdb.services import tags_named

            self.tags.add(*tags_named(extracted))


def relationship_type(slug):
    from cmdb.models import RelationshipType

    return RelationshipType.objects.get(slug=slug)


class RelationshipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "cmdb.Relationship"

    source = factory.SubFactory(CIFactory)
    target = factory.SubFactory(CIFactory)
    type = factory.LazyFunction(lambda: relationship_type("depends-on"))


def link(source, target, kind="depends-on"):
    """``source —kind→ target`` (a relationship type slug), saved."""
    return RelationshipFactory(source=source, target=target, type=relationship_type(kind))


# --- SLAs -------------------------------------------------------------------------------------


def business_calendar(name="Office hours", time_zone="Europe/Paris", days=range(5), start="09:00", end="17:00"):
    """A calendar open ``start``–``end`` on ``days`` (0 = Monday), in ``time_zone``."""
    from slas.models import BusinessCalendar, WorkingHours

    calendar, _ = BusinessCalendar.objects.get_or_create(name=name, defaults={"time_zone": time_zone})
    for day in days:
        WorkingHours.objects.get_or_create(calendar=calendar, weekday=day, start=start, end=end)
    return calendar


def sla_policy(name="Standard", calendar=None, response=None, resolution=None, **fields):
    """A policy with targets in minutes per priority: ``response={1: 15, 2: 30, …}``."""
    from slas.models import SLAPolicy, SLATarget

    policy = SLAPolicy.objects.create(name=name, calendar=calendar or business_calendar(), **fields)
    response = response or {1: 15, 2: 30, 3: 60, 4: 240, 5: 480}
    resolution = resolution or {1: 240, 2: 480, 3: 960, 4: 2400, 5: 4800}
    SLATarget.objects.bulk_create(
        [SLATarget(policy=policy, metric="response", priority=p, minutes=m) for p, m in response.items()]
        + [SLATarget(policy=policy, metric="resolution", priority=p, minutes=m) for p, m in resolution.items()]
    )
    return policy


# --- Incidents --------------------------------------------------------------------------------


class IncidentFactory(factory.django.DjangoModelFactory):
    """A bare incident row (no SLA clocks, no timeline): use ``incidents.services`` to create
    incidents the way the product does."""

    class Meta:
        model = "incidents.Incident"

    title = factory.Sequence(lambda n: f"Incident {n}")
    description = "Something is broken."


class ProblemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.Problem"

    title = factory.Sequence(lambda n: f"Problem {n}")


class KnownErrorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "incidents.KnownError"

    title = factory.Sequence(lambda n: f"Known error {n}")
    symptom = "The service answers 502 after a restart."
    workaround = "Restart the worker pool."


# --- Notifications ----------------------------------------------------------------------------


class WebhookEndpointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "itom.WebhookEndpoint"

    name = factory.Sequence(lambda n: f"Webhook {n}")
    url = "http://127.0.0.1:9/hook"
    secret = "s3cret-for-tests"


def open_incident(user=None, **fields):
    """An incident opened the way the product opens one (``incidents.services.incidents``):
    priority from the matrix, timeline, SLA clocks, notifications. ``title`` defaults to a
    unique one."""
    from incidents.services.incidents import create_incident

    fields.setdefault("title", f"Incident {next(_incident_titles)}")
    return create_incident(user=user, **fields)


_incident_titles = iter(range(1, 10**9))


# --- Changes ----------------------------------------------------------------------------------


class ChangeFactory(factory.django.DjangoModelFactory):
    """A bare change row in ``new`` (no impact computed, no timeline): use
    ``changes.services.changes`` (or ``new_change`` below) to create changes the way the product
    does."""

    class Meta:
        model = "changes.ChangeRequest"

    title = factory.Sequence(lambda n: f"Change {n}")
    implementation_plan = "1. Drain the node. 2. Upgrade. 3. Undrain."
    backout_plan = "Reinstall the previous package version."


class BlackoutWindowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "changes.BlackoutWindow"

    name = factory.Sequence(lambda n: f"Freeze {n}")
    start = factory.LazyFunction(lambda: _now() + _days(10))
    end = factory.LazyAttribute(lambda w: w.start + _days(2))


class TemplateFactory(factory.django.DjangoModelFactory):
    """A standard-change template row; ``state`` defaults to approved (the catalogue's state)."""

    class Meta:
        model = "changes.StandardChangeTemplate"

    key = factory.Sequence(lambda n: f"template-{n}")
    name = factory.Sequence(lambda n: f"Template {n}")
    state = "approved"
    implementation_plan = "Follow the runbook."
    backout_plan = "Undo the runbook's steps."


def _now():
    from django.utils import timezone

    return timezone.now()


def _days(n):
    from datetime import timedelta

    return timedelta(days=n)


def new_change(user, **fields):
    """A change created the way the product creates one (``changes.services.changes``): impact
    from the CMDB, risk, timeline, notifications. ``title`` defaults to a unique one."""
    from changes.services.changes import create_change

    fields.setdefault("title", f"Change {next(_change_titles)}")
    return create_change(user=user, **fields)


_change_titles = iter(range(1, 10**9))
