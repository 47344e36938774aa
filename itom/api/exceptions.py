"""The API's error format (DESIGN.md §4).

400: ``{"field": ["message", …]}`` (``non_field_errors`` for the object as a whole);
409: a state change that is not allowed: ``{"detail", "state", "allowed": [...]}``, or a write
     that conflicts with other data; 412: a stale ``If-Match``; others ``{"detail": "…"}``.
Django ``ValidationError``s raised by models and services become 400s here, never 500s.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class TransitionNotAllowed(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "transition_not_allowed"

    def __init__(self, current, requested, allowed):
        self.current, self.requested, self.allowed = current, requested, list(allowed)
        super().__init__(
            f"Cannot move from {current!r} to {requested!r}; allowed: {', '.join(self.allowed) or 'none'}."
        )


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The request conflicts with the current state of the data."


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"
    default_detail = "The object changed since you read it (If-Match does not match its ETag)."


def django_errors_to_drf(exc):
    if hasattr(exc, "error_dict"):
        detail = {
            ("non_field_errors" if field == "__all__" else field): messages
            for field, messages in exc.message_dict.items()
        }
    else:
        detail = {"non_field_errors": exc.messages}
    return exceptions.ValidationError(detail)


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = django_errors_to_drf(exc)
    elif isinstance(exc, ProtectedError):
        exc = Conflict(f"Cannot delete: {len(exc.protected_objects)} other object(s) still refer to it.")
    elif isinstance(exc, RestrictedError):
        exc = Conflict(f"Cannot delete: {len(exc.restricted_objects)} other object(s) still refer to it.")
    elif isinstance(exc, IntegrityError):
        exc = Conflict()
    if isinstance(exc, TransitionNotAllowed):
        return Response(
            {"detail": str(exc.detail), "state": exc.current, "requested": exc.requested, "allowed": exc.allowed},
            status=exc.status_code,
        )
    return drf_exception_handler(exc, context)
