"""Celery hooks: a task acts as ``task:<name>`` (or as the user it was sent for) in the audit
trail, with the task id as its request id."""

import uuid
from contextlib import suppress

from celery.signals import task_postrun, task_prerun

from itom.context import Actor, reset_actor, set_actor

_tokens = {}


@task_prerun.connect
def _enter_task(task_id=None, task=None, kwargs=None, **extra):
    user = None
    acting_user_id = (kwargs or {}).get("acting_user_id")
    if acting_user_id is not None:
        from django.contrib.auth import get_user_model

        user = get_user_model()._default_manager.filter(pk=acting_user_id, is_active=True).first()
    try:
        request_id = uuid.UUID(str(task_id))
    except ValueError:
        request_id = uuid.uuid4()
    _tokens[task_id] = set_actor(Actor(user=user, label=f"task:{task.name}", request_id=request_id))


@task_postrun.connect
def _leave_task(task_id=None, **extra):
    token = _tokens.pop(task_id, None)
    if token is not None:
        with suppress(ValueError):  # the token belongs to another context (eager calls across threads)
            reset_actor(token)
