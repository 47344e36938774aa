"""Every write to the CMDB: views, the API, the admin, imports and tasks call these.

Each function validates the whole object (``full_clean``: field checks, the class's attribute
schema, the uniqueness rules) before it writes, and runs in one transaction.
"""

from django.db import transaction

from cmdb.models import CI, AttributeDefinition, CIClass, Relationship, Tag


@transaction.atomic
def save_ci(ci, tags=None):
    """Validate and save a CI (new or existing); ``tags`` (Tags or names), if given, replace its tags."""
    ci.full_clean()
    ci.save()
    if tags is not None:
        ci.tags.set(tags_named(tags))
    return ci


def tags_named(tags):
    """Tags from a mix of Tag objects and names; unknown names are created."""
    found = []
    for tag in tags:
        if isinstance(tag, Tag):
            found.append(tag)
            continue
        name = str(tag).strip()
        if name:
            existing = Tag.objects.filter(name__iexact=name).first()
            if existing is None:
                existing = Tag(name=name)
                existing.full_clean()
                existing.save()
            found.append(existing)
    return found


@transaction.atomic
def relate(source, type, target, description=""):
    """Create ``source —type→ target``. Self-links and exact duplicates are refused (400)."""
    relationship = Relationship(source=source, type=type, target=target, description=description)
    relationship.full_clean()
    relationship.save()
    return relationship


@transaction.atomic
def unrelate(relationship):
    relationship.delete()


@transaction.atomic
def save_class(ci_class, attributes=None):
    """Validate and save a CI class; ``attributes`` (a list of unsaved or saved
    ``AttributeDefinition``s), if given, becomes its own schema: definitions left out are deleted."""
    ci_class.full_clean()
    ci_class.save()
    if attributes is not None:
        keep = []
        for definition in attributes:
            definition.ci_class = ci_class
            definition.full_clean()
            definition.save()
            keep.append(definition.pk)
        AttributeDefinition.objects.filter(ci_class=ci_class).exclude(pk__in=keep).delete()
    return ci_class


@transaction.atomic
def delete_ci(ci):
    """Delete a CI and its relationships (each relationship's deletion is audited)."""
    CI.objects.select_for_update().filter(pk=ci.pk).first()
    ci.delete()


def classes_in(ci_class):
    """``ci_class`` and its subclasses, as a queryset (the "class incl. subclasses" filter)."""
    return CIClass.objects.filter(pk__in=CIClass.objects.descendant_ids(ci_class.pk))
