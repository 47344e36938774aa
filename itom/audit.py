"""The audit trail, written in one place whatever the entry point (UI, API, admin, task, shell).

Receivers on Django's model signals write an ``ObjectChange`` for every create, update, delete
and many-to-many change of an audited model: every ``ChangeLoggedModel`` plus the models named
in ``register()`` (the user model). ``QuerySet.update()`` and ``bulk_create`` bypass signals:
code that uses them on audited models calls ``log_change`` itself.
"""

import json

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models.fields.files import FieldFile
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_save

from itom.choices import ChangeAction
from itom.context import current_actor
from itom.models import ChangeLoggedModel, ObjectChange

_registered_excludes = {}


def register(model, exclude=()):
    """Audit a model that can't inherit ``ChangeLoggedModel`` (e.g. the user model)."""
    _registered_excludes[model] = tuple(exclude)
    _connect(model)


def connect_audited_models():
    """Connect the receivers to every ``ChangeLoggedModel`` (called from ``ItomConfig.ready``).

    Receivers are connected per audited model, never to all senders: a model with no delete
    receivers keeps Django's fast (single-statement) deletes, which pruning relies on."""
    from django.apps import apps

    for model in apps.get_models():
        if issubclass(model, ChangeLoggedModel):
            _connect(model)


def _connect(model):
    label = model._meta.label
    pre_save.connect(_snapshot_before_save, sender=model, dispatch_uid=f"audit.pre_save.{label}")
    post_save.connect(_log_save, sender=model, dispatch_uid=f"audit.post_save.{label}")
    post_delete.connect(_log_delete, sender=model, dispatch_uid=f"audit.post_delete.{label}")
    for field in model._meta.many_to_many:
        through = field.remote_field.through
        m2m_changed.connect(_log_m2m, sender=through, dispatch_uid=f"audit.m2m.{through._meta.label}")


def is_audited(model):
    return issubclass(model, ChangeLoggedModel) or model in _registered_excludes


def _excluded(model):
    if model in _registered_excludes:
        return _registered_excludes[model]
    return tuple(getattr(model, "audit_exclude", ())) + ("created_at", "updated_at")


def jsonable(value):
    """A field's value as JSON would carry it: dates as ISO strings, decimals and UUIDs as strings,
    JSON fields as they are, files as their names."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, FieldFile):
        return value.name or None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def serialize(instance):
    """A JSON-safe dict of the instance's concrete fields and many-to-many primary keys."""
    excluded = _excluded(type(instance))
    data = {}
    opts = instance._meta
    for f in opts.concrete_fields:
        if f.name in excluded:
            continue
        data[f.name] = jsonable(f.value_from_object(instance))
    if instance.pk is not None:
        for f in opts.many_to_many:
            if f.name not in excluded:
                data[f.name] = sorted(getattr(instance, f.name).values_list("pk", flat=True))
    return data


def log_change(instance, action, before=None, after=None):
    actor = current_actor()
    user = actor.resolve_user()
    return ObjectChange.objects.create(
        user=user,
        user_name=user.get_username() if user is not None else actor.label,
        request_id=actor.request_id,
        action=action,
        content_type=ContentType.objects.get_for_model(instance, for_concrete_model=True),
        object_id=str(instance.pk),
        object_repr=str(instance)[:200],
        prechange_data=before,
        postchange_data=after,
    )


def _snapshot_before_save(sender, instance, raw=False, **kwargs):
    if raw or not is_audited(sender):
        return
    instance._audit_before = None
    if instance.pk is not None and not instance._state.adding:
        previous = sender._base_manager.filter(pk=instance.pk).first()
        if previous is not None:
            instance._audit_before = serialize(previous)


def _log_save(sender, instance, created, raw=False, **kwargs):
    if raw or not is_audited(sender):
        return
    after = serialize(instance)
    before = None if created else getattr(instance, "_audit_before", None)
    if before is not None and before == after:
        return  # a save that changed nothing audited
    log_change(instance, ChangeAction.CREATE if created or before is None else ChangeAction.UPDATE, before, after)


def _log_delete(sender, instance, **kwargs):
    if is_audited(sender):
        log_change(instance, ChangeAction.DELETE, serialize(instance), None)


def _m2m_field(sender, model):
    for f in model._meta.many_to_many:
        if f.remote_field.through is sender:
            return f
    return None


def _log_m2m(sender, instance, action, reverse, model, pk_set, **kwargs):
    """Log an update of each object that owns the changed m2m field, with its before/after."""
    if action not in {"pre_add", "pre_remove", "pre_clear", "post_add", "post_remove", "post_clear"}:
        return
    owner_model = model if reverse else type(instance)
    if not is_audited(owner_model):
        return
    field = _m2m_field(sender, owner_model)
    if field is None:
        return
    key = f"_audit_m2m_{sender._meta.label}"
    if action.startswith("pre_"):
        if not reverse:
            owners = [instance]
        elif action == "pre_clear":
            owners = owner_model._base_manager.filter(**{field.name: instance})
        else:
            owners = owner_model._base_manager.filter(pk__in=pk_set)
        instance.__dict__[key] = {owner.pk: serialize(owner) for owner in owners}
        return
    snapshots = instance.__dict__.pop(key, {})
    owners = [instance] if not reverse else owner_model._base_manager.filter(pk__in=list(snapshots))
    for owner in owners:
        before, after = snapshots.get(owner.pk), serialize(owner)
        if before != after:
            log_change(owner, ChangeAction.UPDATE, before, after)


def readable_diff(model, changes):
    """The History tab's rows for ``changes`` (ObjectChanges of one ``model``): a list, per change,
    of ``(field label, before, after)`` with related objects' primary keys shown as their names.
    One query per related model for the whole page, not per row."""
    fields = {f.name: f for f in model._meta.concrete_fields + model._meta.many_to_many}
    wanted = {}
    for change in changes:
        for name, values in change.diff.items():
            field = fields.get(name)
            if field is not None and field.is_relation:
                for value in values:
                    wanted.setdefault(field.related_model, set()).update(
                        value if isinstance(value, list) else [value] if value is not None else []
                    )
    names = {
        related: {obj.pk: str(obj) for obj in related._base_manager.filter(pk__in=pks)}
        for related, pks in wanted.items()
    }

    def show(field, value):
        if field is None or not field.is_relation or value is None:
            return value
        known = names.get(field.related_model, {})
        if isinstance(value, list):
            return ", ".join(known.get(pk, f"#{pk} (deleted)") for pk in value) or "—"
        return known.get(value, f"#{value} (deleted)")

    rows = []
    for change in changes:
        rows.append(
            [
                (
                    str(getattr(fields.get(name), "verbose_name", name)),
                    show(fields.get(name), before),
                    show(fields.get(name), after),
                )
                for name, (before, after) in change.diff.items()
            ]
        )
    return rows


def audited_models():
    from django.apps import apps

    return [m for m in apps.get_models() if is_audited(m)]
