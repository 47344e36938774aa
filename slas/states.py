"""The states of the objects SLA clocks follow (the "pause in these states" choices of a policy).

The SLA app sits below the apps whose objects it times (incidents today), so it does not import
them: every model with a ``GenericRelation`` to ``SLAClock`` and a ``state`` field with choices
contributes its states, found through the app registry.
"""

from django.apps import apps
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import FieldDoesNotExist


def subject_models():
    from slas.models import SLAClock

    found = []
    for model in apps.get_models():
        for field in model._meta.private_fields:
            if isinstance(field, GenericRelation) and field.related_model is SLAClock:
                found.append(model)
                break
    return found


def subject_states():
    """``[(value, label)]`` of the states the clocks' objects can be in, in their order."""
    seen, choices = set(), []
    for model in subject_models():
        try:
            field = model._meta.get_field("state")
        except FieldDoesNotExist:
            continue
        for value, label in field.choices or ():
            if value not in seen:
                seen.add(value)
                choices.append((value, str(label)))
    return choices


def state_label(value):
    """The label of a subject state (``"on_hold"`` → ``"On hold"``), or the value itself."""
    return dict(subject_states()).get(value, str(value).replace("_", " ").capitalize())
