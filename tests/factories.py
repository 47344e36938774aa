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
