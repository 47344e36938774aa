"""Standard change templates: drafts, approval by a manager, revisions, retirement (issue 5 item 4).

A template is a pre-approved recipe for a standard change, identified across its versions by its
``key``. Its life: ``create_template`` writes draft version 1; drafts are edited with
``update_template``; a manager other than the draft's author approves it (``approve_template``),
which retires the version approved before it (one approved version per key, a partial unique
index); ``revise_template`` starts the next version of an approved template as a draft (one draft
per key at a time); ``retire_template`` takes a version out of the catalogue. Changes keep the
version they were made from (``ChangeRequest.template`` points at that row, never moved).

Each function runs in one transaction with the rows locked and re-read. Bad input →
``ValidationError({field: reason})`` (400); a write the template's state forbids → ``Conflict``
(409); approving or retiring without being a manager, or approving one's own draft →
``PermissionDenied`` (403). Nothing is written when one is raised. Every write is audited
(``ChangeLoggedModel``).
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.text import slugify

from changes.choices import TemplateState
from changes.models import StandardChangeTemplate
from cmdb.models import CIClass
from itom.api.exceptions import Conflict
from itom.locks import lock_row
from itom.roles import is_manager

T = TemplateState
KEY_MAX = StandardChangeTemplate._meta.get_field("key").max_length
# What a draft's author may set; ``key`` only when the template is created.
EDITABLE_FIELDS = (
    "name",
    "description",
    "category",
    "assignment_team",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "risk_level",
    "ci_classes",
)
# What a revision copies from the approved version.
COPIED_FIELDS = tuple(name for name in EDITABLE_FIELDS if name != "ci_classes")
KEY_KEPT = "The key is kept across versions: it can't be changed."
NOT_EDITABLE_REASONS = {
    "state": "Approve, revise or retire the template instead.",
    "version": "Versions are numbered by revising an approved template.",
}


@transaction.atomic
def create_template(*, user, **fields):
    """Write a new template as draft version 1 (``user`` is its author). ``key`` defaults to the
    name as a slug; a key already used by another template is refused (revise that one)."""
    key = fields.pop("key", None)
    _check_field_names(fields)
    ci_classes = fields.pop("ci_classes", None)
    template = StandardChangeTemplate(state=T.DRAFT, version=1, author=user)
    _assign(template, fields)
    key_field = "key" if key not in (None, "") else "name"
    template.key = (str(key).strip() if key_field == "key" else slugify(template.name))[:KEY_MAX].strip("-")
    if not template.key and template.name:
        raise ValidationError({"key": "Give a key (letters, digits, hyphens, underscores): the name makes none."})
    existing = StandardChangeTemplate.objects.filter(key=template.key).order_by("-version").first()
    if template.key and existing is not None:
        raise ValidationError({key_field: _key_taken(existing)})
    template.full_clean()
    class_ids = _ci_class_ids(ci_classes)
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:  # created by someone else at the same moment
        existing = StandardChangeTemplate.objects.filter(key=template.key).order_by("-version").first()
        raise ValidationError({key_field: _key_taken(existing)}) from None
    if class_ids:
        template.ci_classes.set(class_ids)
    return template


@transaction.atomic
def update_template(template, *, user, **fields):
    """Edit a draft (``EDITABLE_FIELDS``; ``ci_classes`` replaces the set). The ``key`` is kept
    (given, it must be the template's). An approved or retired version is not edited: revise it
    (409)."""
    key = fields.pop("key", None)
    _check_field_names(fields)
    template = _lock(template)
    if key is not None and key != template.key:
        raise ValidationError({"key": KEY_KEPT})
    if template.state != T.DRAFT:
        raise Conflict(
            f"{template} is {template.get_state_display().lower()}: only drafts are edited"
            + (" (revise it to make a new draft)." if template.state == T.APPROVED else ".")
        )
    ci_classes = fields.pop("ci_classes", None)
    _assign(template, fields)
    template.full_clean()
    class_ids = _ci_class_ids(ci_classes) if ci_classes is not None else None
    template.save()
    if class_ids is not None:
        template.ci_classes.set(class_ids)
    return template


@transaction.atomic
def revise_template(template, *, user):
    """Start the next version of an approved template: a draft copying its fields (``user`` its
    author), numbered one above the highest version of the key. Refused (409) when the template
    is not the approved version, or when the key already has a draft (naming it)."""
    template = _lock(template)
    if template.state != T.APPROVED:
        raise Conflict(f"{template} is {template.get_state_display().lower()}: only the approved version is revised.")
    versions = StandardChangeTemplate.objects.filter(key=template.key)
    draft = versions.filter(state=T.DRAFT).order_by("-version").first()
    if draft is not None:
        raise Conflict(f"{draft} is already a draft of this template: edit it, or retire it first.")
    revision = StandardChangeTemplate(
        key=template.key,
        version=(versions.aggregate(Max("version"))["version__max"] or 0) + 1,
        state=T.DRAFT,
        author=user,
        **{name: getattr(template, name) for name in COPIED_FIELDS},
    )
    try:
        with transaction.atomic():
            revision.save()
    except IntegrityError:
        raise Conflict(f"{template.name} was revised by someone else at the same moment: reload it.") from None
    revision.ci_classes.set(template.ci_classes.all())
    return revision


@transaction.atomic
def approve_template(template, *, user):
    """Approve a draft into the catalogue (managers only, never the draft's author). The version
    approved before it is retired; changes made from it keep pointing at it."""
    if not is_manager(user):
        raise PermissionDenied("Only managers may approve standard change templates.")
    # Lock every version of the key (the key never changes) before moving any of them.
    versions = list(StandardChangeTemplate.objects.select_for_update().filter(key=template.key).order_by("pk"))
    template = next((version for version in versions if version.pk == template.pk), None) or _lock(template)
    if template.author_id is not None and template.author_id == user.pk:
        raise PermissionDenied("You can't approve a template you wrote: another manager must.")
    if template.state != T.DRAFT:
        raise Conflict(f"{template} is {template.get_state_display().lower()}: only a draft is approved.")
    template.full_clean()
    now = timezone.now()
    for previous in versions:
        if previous.pk != template.pk and previous.state == T.APPROVED:
            previous.state = T.RETIRED
            previous.save(update_fields=["state", "updated_at"])
    template.state = T.APPROVED
    template.approved_by = user
    template.approved_at = now
    template.save(update_fields=["state", "approved_by", "approved_at", "updated_at"])
    return template


@transaction.atomic
def retire_template(template, *, user):
    """Take a version out of the catalogue (managers only): no new change is made from it; the
    changes made from it keep it. A draft may be retired too (abandoned)."""
    if not is_manager(user):
        raise PermissionDenied("Only managers may retire standard change templates.")
    template = _lock(template)
    if template.state == T.RETIRED:
        raise Conflict(f"{template} is already retired.")
    template.state = T.RETIRED
    template.save(update_fields=["state", "updated_at"])
    return template


def catalogue():
    """The approved templates, by name: what a standard change may be made from."""
    return StandardChangeTemplate.objects.filter(state=T.APPROVED).select_related("category", "assignment_team")


# --- helpers ----------------------------------------------------------------------------------


def _lock(template):
    return lock_row(StandardChangeTemplate, template, "template", "Template")


def _check_field_names(fields):
    refused = {
        name: NOT_EDITABLE_REASONS.get(name, "Not a field of a template that can be set.")
        for name in fields
        if name not in EDITABLE_FIELDS
    }
    if refused:
        raise ValidationError(refused)


def _assign(template, fields):
    """Set the plain and foreign-key fields (objects, ids or None) on ``template``."""
    for name, value in fields.items():
        if name in ("category", "assignment_team"):
            setattr(template, f"{name}_id", _pk(name, value))
        elif name in ("name", "implementation_plan", "backout_plan") and isinstance(value, str):
            setattr(template, name, value.strip())
        else:
            setattr(template, name, "" if value is None and name != "risk_level" else value)
    if template.category_id is not None and "category" in fields:
        from incidents.models import Category

        category = Category.objects.filter(pk=template.category_id).first()
        if category is not None and not category.active:
            raise ValidationError({"category": f"The category {category.name} is retired: choose an active one."})


def _pk(name, value):
    if value in (None, ""):
        return None
    if hasattr(value, "pk"):
        return value.pk
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit():
        raise ValidationError({name: f"Expected an id, not “{value}”."})
    return int(text)


def _ci_class_ids(values):
    """CI class ids from classes or ids; unknown ones are refused, naming them."""
    if values is None:
        return []
    if isinstance(values, (str, int)) and not isinstance(values, bool):
        values = [values]
    ids = []
    for value in values:
        pk = _pk("ci_classes", value)
        if pk is not None and pk not in ids:
            ids.append(pk)
    found = set(CIClass.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({"ci_classes": f"Unknown CI classes: {', '.join(map(str, missing))}."})
    return ids


def _key_taken(existing):
    return (
        f"The key “{existing.key}” is taken by {existing} ({existing.get_state_display().lower()}): "
        "revise that template, or choose another key."
    )
