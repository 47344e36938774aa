"""Row locks for the services (DESIGN.md §7: every state change re-reads its row locked)."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.text import capfirst


def lock_row(source, obj, name, label=None):
    """``obj`` (an instance of the model or a primary key) as it is now in the database, its row
    locked until the transaction ends. ``source`` is the model, or a queryset of it (to bring
    related rows along, e.g. ``select_related``); only the model's own row is locked. A
    ``ValidationError`` naming ``name`` when there is no such row."""
    queryset = source if isinstance(source, QuerySet) else source._default_manager.all()
    model = queryset.model
    pk = obj.pk if isinstance(obj, model) else obj
    try:
        return queryset.select_for_update(of=("self",)).get(pk=pk)
    except (model.DoesNotExist, TypeError, ValueError):
        label = label or capfirst(model._meta.verbose_name)
        raise ValidationError({name: f"{label} {pk} does not exist."}) from None
