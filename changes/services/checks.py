"""Input checks shared by the change services (``changes.services.changes``,
``changes.services.incident_links`` and ``changes.services.templates``), and the row locks they
take.

Each check raises Django's ``ValidationError`` naming the field, or returns the cleaned value;
``collect`` gathers the errors of several checks so one 400 lists every bad field. Related
objects may be given as instances or primary keys (forms give instances, the API and tests
often ids).
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts import assignment
from accounts.models import Team
from changes.choices import TemplateState
from changes.models import ChangeRequest, RiskOption
from cmdb.models import CI, CIClass
from incidents.choices import OPEN_STATES as INCIDENT_OPEN_STATES
from incidents.models import Category, Incident
from itom.locks import lock_row

TEXT_FIELDS = (
    "description",
    "justification",
    "implementation_plan",
    "backout_plan",
    "test_plan",
    "emergency_justification",
)


def lock_change(change):
    """The change's row, locked until the transaction ends, as it is now in the database."""
    return lock_row(ChangeRequest, change, "change", "Change")


def lock_incident(incident):
    return lock_row(Incident, incident, "incident", "Incident")


def merge_errors(errors, exc):
    for name, messages in exc.message_dict.items():
        errors.setdefault(name, []).extend(messages)


def collect(errors, check):
    """Run ``check()``; a ValidationError it raises is added to ``errors`` (the result is then None)."""
    try:
        return check()
    except ValidationError as exc:
        merge_errors(errors, exc)
        return None


def clean_text(value):
    """Text as stored: line endings of browsers' text areas made ``\\n``, outer blanks dropped."""
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n").replace("\r", "\n").strip()


def resolve(model, value, name, label):
    """An instance of ``model`` from an instance or a primary key (None and "" stay None)."""
    if value is None or value == "":
        return None
    if isinstance(value, model):
        return value
    try:
        return model._default_manager.get(pk=int(value))
    except (TypeError, ValueError, model.DoesNotExist):
        raise ValidationError({name: f"Unknown {label} {value!r}."}) from None


def as_datetime(value, name):
    """An aware datetime from a datetime or an ISO 8601 string (None and "" stay None)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parsed = parse_datetime(value.strip())
        if parsed is None:
            raise ValidationError({name: f"Give a date and time (ISO 8601), not {value!r}."})
        value = parsed
    if not hasattr(value, "tzinfo") or not hasattr(value, "hour"):
        raise ValidationError({name: "Give a date and time."})
    return timezone.make_aware(value) if timezone.is_naive(value) else value


def as_ids(items, name, label):
    """Primary keys from objects or ids; anything else is a ValidationError naming ``name``."""
    if items is None:
        return []
    if isinstance(items, (str, bytes, int)) or hasattr(items, "pk"):
        items = [items]
    try:
        return list(dict.fromkeys(int(item.pk if hasattr(item, "pk") else item) for item in items))
    except (TypeError, ValueError):
        raise ValidationError({name: f"Give {label} (or their ids)."}) from None


def ci_ids_of(items):
    ids = as_ids(items, "affected_cis", "CIs")
    found = set(CI.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({"affected_cis": f"Unknown CIs: {', '.join(map(str, missing))}."})
    return sorted(ids)


def open_incidents(items, name="incidents"):
    ids = as_ids(items, name, "incidents")
    found = {incident.pk: incident for incident in Incident.objects.filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({name: f"Unknown incidents: {', '.join(map(str, missing))}."})
    closed = [incident for incident in found.values() if incident.state not in INCIDENT_OPEN_STATES]
    if closed:
        listed = ", ".join(f"{i.number} is {i.get_state_display().lower()}" for i in closed)
        raise ValidationError({name: f"Only open incidents can wait for a change: {listed}."})
    return [found[pk] for pk in ids]


def risk_options(items, name="risk_answers"):
    """Risk options, one per active question, from objects or ids."""
    ids = as_ids(items, name, "risk questionnaire options")
    found = {option.pk: option for option in RiskOption.objects.filter(pk__in=ids).select_related("question")}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise ValidationError({name: f"Unknown answers: {', '.join(map(str, missing))}."})
    options = [found[pk] for pk in ids]
    retired = [option.question.text for option in options if not option.question.active]
    if retired:
        raise ValidationError({name: f"No longer asked: {'; '.join(retired)}"})
    seen = {}
    for option in options:
        if option.question_id in seen:
            raise ValidationError({name: f"One answer per question: “{option.question.text}” has two."})
        seen[option.question_id] = option
    return options


def check_assignment(team, assignee):
    """``(team, assignee)`` once the assignee is known to work changes in the team
    (``accounts.assignment.check_assignment``)."""
    return assignment.check_assignment(team, assignee, permission="changes.change_changerequest", work="changes")


def clean_values(fields, errors):
    """The plain fields among ``fields`` (not the CIs), cleaned: text normalised, ids resolved,
    datetimes parsed. Errors go to ``errors``; the fields in error are left out."""
    resolvers = {
        "assignment_team": lambda v: resolve(Team, v, "assignment_team", "team"),
        "assignee": lambda v: resolve(get_user_model(), v, "assignee", "user"),
        "category": lambda v: resolve(Category, v, "category", "category"),
        "planned_start": lambda v: as_datetime(v, "planned_start"),
        "planned_end": lambda v: as_datetime(v, "planned_end"),
        "title": clean_text,
        **dict.fromkeys(TEXT_FIELDS, clean_text),
    }
    values = {}
    for name, value in fields.items():
        if name in resolvers:
            try:
                values[name] = resolvers[name](value)
            except ValidationError as exc:
                merge_errors(errors, exc)
    category = values.get("category")
    if category is not None and not category.active:
        errors.setdefault("category", []).append(f"The category {category.name} is retired: choose an active one.")
        values.pop("category")
    return values


def check_window(start, end):
    if start is not None and end is not None and end <= start:
        raise ValidationError({"planned_end": "The planned end must be after the planned start."})


def refused_fields(fields, allowed):
    reasons = {
        "state": "Change the state with a transition.",
        "number": "The number is allocated once and never changes.",
        "type": "The type can only be changed while the change is new.",
    }
    return {
        name: [reasons.get(name, "This field cannot be set here (it is kept by the system).")]
        for name in sorted(set(fields) - set(allowed))
    }


def check_template(template, ci_ids):
    """An approved template whose CI classes (if it names any) cover the CIs."""
    if template.state != TemplateState.APPROVED:
        state = template.get_state_display().lower()
        raise ValidationError({"template": f"The template {template} is {state}: only approved templates are used."})
    class_ids = list(template.ci_classes.values_list("pk", flat=True))
    if not class_ids or not ci_ids:
        return
    parents = CIClass.objects.parents_by_id()
    covered = {pk for class_id in class_ids for pk in CIClass.objects.descendant_ids(class_id, parents)}
    outside = list(CI.objects.filter(pk__in=ci_ids).exclude(ci_class_id__in=covered).order_by("name"))
    if outside:
        classes = ", ".join(template.ci_classes.order_by("name").values_list("name", flat=True))
        names = ", ".join(f"{ci.name} ({ci.ci_class.name})" for ci in outside[:5])
        raise ValidationError({"affected_cis": f"The template {template} applies to {classes} only, not to {names}."})
