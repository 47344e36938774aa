"""Every write to the CMDB: views, the API, the admin, imports and tasks call these.

Each function validates the whole object (``full_clean``: field checks, the class's attribute
schema, the uniqueness rules) before it writes, and runs in one transaction.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Upper

from cmdb.models import CI, AttributeDefinition, CIClass, Relationship, Tag
from cmdb.schema import validate_attributes


@transaction.atomic
def save_ci(ci, tags=None):
    """Validate and save a CI (new or existing); ``tags`` (Tags or names), if given, replace its tags."""
    ci.full_clean()
    ci.save()
    if tags is not None:
        ci.tags.set(tags_named(tags))
    return ci


def save_imported_ci(ci, tags=None, find_tags=None):
    """``save_ci`` for one row of a bulk import (``cmdb.imports``, ``cmdb.facts``), which runs each
    row in a savepoint of its own and rolls it back on any error: the same validation, errors,
    write and audit trail, with no savepoint of its own. ``tags`` (Tags or names), if given, replace the CI's tags;
    ``find_tags`` turns them into Tags (default ``tags_named``; the import's cache)."""
    ci.full_clean()
    created = ci._state.adding
    with transaction.atomic(savepoint=False):  # the caller's savepoint: a failure rolls the row back
        ci.save()
        if tags is not None:
            tags = (find_tags or tags_named)(tags)
            if created:
                ci.tags.add(*tags)  # a new CI has no tags to compare with
            else:
                ci.tags.set(tags)
    return ci


def tags_named(tags):
    """Tags from a mix of Tag objects and names (matched case-insensitively); unknown names are
    created. One query finds the existing tags of all the (ASCII) names."""
    tags = list(tags)
    found, known = [], existing_tags(str(tag) for tag in tags if not isinstance(tag, Tag))
    created = False
    for tag in tags:
        if isinstance(tag, Tag):
            found.append(tag)
            continue
        name = str(tag).strip()
        if not name:
            continue
        key = tag_key(name)
        match = known.get(key)
        if match is None and (created or not name.isascii()):
            # Not known from the one query, or a tag created since may match: ask for this name.
            match = Tag.objects.filter(name__iexact=name).first()
        if match is None:
            match = Tag(name=name)
            match.full_clean()
            match.save()
            created = True
        known[key] = match
        found.append(match)
    return found


def tag_key(name):
    """What tag names are matched by: ``NAME`` for an ASCII name (case-insensitive, as the
    database's ``name__iexact`` matches it); the name itself otherwise (the database's and Python's
    case rules may differ there: such names are matched by ``name__iexact``, one at a time)."""
    return name.upper() if name.isascii() else name


def existing_tags(names):
    """``{tag_key(name): Tag}`` for the tags with the given ASCII names, in one query; matched as
    ``name__iexact`` matches them (the first by name when several differ only in case)."""
    wanted = {tag_key(name.strip()) for name in names if name.strip() and name.strip().isascii()}
    found = {}
    if wanted:
        for tag in Tag.objects.annotate(upper_name=Upper("name")).filter(upper_name__in=wanted):
            found.setdefault(tag.upper_name, tag)
    return found


@transaction.atomic
def relate(source, type, target, description=""):
    """Create ``source —type→ target``. Self-links and exact duplicates are refused (400)."""
    relationship = Relationship(source=source, type=type, target=target, description=description)
    relationship.full_clean()
    try:
        with transaction.atomic():
            relationship.save()
    except IntegrityError:  # the same link created concurrently, after full_clean looked
        raise ValidationError({"target": "These two CIs are already related this way."}) from None
    return relationship


@transaction.atomic
def save_relationship(relationship):
    """Validate and save an existing relationship after an edit (its description, type or ends)."""
    relationship.full_clean()
    relationship.save()
    return relationship


@transaction.atomic
def unrelate(relationship):
    relationship.delete()


@transaction.atomic
def save_relationship_type(relationship_type):
    relationship_type.full_clean()
    relationship_type.save()
    return relationship_type


@transaction.atomic
def delete_relationship_type(relationship_type):
    """Delete a relationship type; one still in use is protected (``ProtectedError``)."""
    relationship_type.delete()


@transaction.atomic
def save_tag(tag):
    tag.full_clean()
    tag.save()
    return tag


@transaction.atomic
def delete_tag(tag):
    """Delete a tag (the CIs that carried it lose it)."""
    tag.delete()


@transaction.atomic
def save_class(ci_class, attributes=None):
    """Validate and save a CI class; ``attributes`` (a list of unsaved or saved
    ``AttributeDefinition``s), if given, becomes its own schema: definitions left out are deleted."""
    ci_class.full_clean()
    ci_class.save()
    ci_class.__dict__.pop("_pinned_schema", None)  # see CIClass.pin_schema
    if attributes is not None:
        keep = []
        for definition in attributes:
            definition.ci_class = ci_class
            definition.full_clean()
            definition.save()
            keep.append(definition.pk)
        AttributeDefinition.objects.filter(ci_class=ci_class).exclude(pk__in=keep).delete()
    _check_existing_cis(ci_class)
    return ci_class


SHOWN_MISFITS = 5


def _check_existing_cis(ci_class):
    """Refuse a schema change (or a move to another parent) that the CIs of the class and its
    subclasses would no longer pass: a new required attribute they lack, a type or choice their
    values don't fit, a removed attribute they still have a value for. The operator fills in or
    clears those values first (an import with an ``attr:<name>`` column does it in bulk)."""
    schemas, misfits, count = {}, [], 0
    cis = CI.objects.filter(ci_class_id__in=CIClass.objects.descendant_ids(ci_class.pk))
    for name, attributes, class_id in cis.values_list("name", "attributes", "ci_class_id").iterator():
        if class_id not in schemas:
            owner = CIClass.objects.get(pk=class_id)
            schemas[class_id] = (owner.effective_attributes(), owner.name)
        definitions, class_name = schemas[class_id]
        try:
            validate_attributes(attributes, definitions, class_name)
        except ValidationError as exc:
            count += 1
            if len(misfits) < SHOWN_MISFITS:
                misfits.append(f"{name} ({'; '.join(exc.messages)})")
    if count:
        more = f" and {count - len(misfits)} more" if count > len(misfits) else ""
        raise ValidationError(
            {
                "attributes": f"{count} CI{'s' if count != 1 else ''} of this class or its subclasses would no "
                f"longer fit the schema: {', '.join(misfits)}{more}. Fill in or clear their values first."
            }
        )


@transaction.atomic
def delete_class(ci_class):
    """Delete a class and its own attribute schema; a class that still has CIs or subclasses is
    protected (``ProtectedError``)."""
    ci_class.delete()


@transaction.atomic
def delete_ci(ci):
    """Delete a CI and its relationships (each relationship's deletion is audited)."""
    CI.objects.select_for_update().filter(pk=ci.pk).first()
    ci.delete()


def classes_in(ci_class):
    """``ci_class`` and its subclasses, as a queryset (the "class incl. subclasses" filter)."""
    return CIClass.objects.filter(pk__in=CIClass.objects.descendant_ids(ci_class.pk))


# --- Imports (cmdb.imports, cmdb.facts): all or nothing, one savepoint per row ----------------


def import_cis(rows, key="name", dry_run=False):
    """Upsert CIs from import rows (``cmdb.imports.parse``'s output, or dicts with the same
    columns) by class + name (``key="name"``) or by ``external_id``. All or nothing: on a dry run,
    or when any row is bad, nothing is kept. Returns an ``ImportReport`` (per-row actions and
    errors)."""
    from cmdb.imports import import_rows

    return import_rows(rows, key=key, dry_run=dry_run)


def import_host_facts(payload, environment="production", owner_team=None, dry_run=False):
    """Create or update server and VM CIs from host facts (``ansible -m setup`` output,
    ansible_facts JSON or ``facter --json``; see ``cmdb.facts``). ``owner_team`` (a Team or a
    team's name) owns the CIs created, and those that had no owner. Returns an ``ImportReport``."""
    from cmdb.facts import import_facts

    return import_facts(payload, environment=environment, owner_team=owner_team, dry_run=dry_run)
