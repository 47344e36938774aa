from django.db import transaction
from rest_framework import viewsets
from rest_framework.response import Response

from itom.api.exceptions import PreconditionFailed


def etag_for(obj):
    """A strong ETag from the object's last update time (``updated_at``)."""
    stamp = getattr(obj, "updated_at", None)
    return f'"{obj.pk}-{stamp.timestamp():.6f}"' if stamp is not None else None


class PortalViewSetMixin:
    """What every portal viewset shares:

    - every write request runs in one transaction, rolled back whenever the answer is an error,
      so a 4xx never leaves a partial write;
    - the object a write acts on (PUT, PATCH, DELETE, or a POST action such as a transition)
      is locked with ``SELECT … FOR UPDATE`` and ``If-Match`` is checked against it (412);
    - reads and updates answer with the object's ``ETag``.
    """

    def dispatch(self, request, *args, **kwargs):
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return super().dispatch(request, *args, **kwargs)
        with transaction.atomic():
            response = super().dispatch(request, *args, **kwargs)
            if response.status_code >= 400:
                transaction.set_rollback(True)
        return response

    def get_object(self):
        obj = super().get_object()
        if self.request.method not in ("GET", "HEAD", "OPTIONS"):
            obj = type(obj)._base_manager.select_for_update().get(pk=obj.pk)
            expected = self.request.headers.get("If-Match")
            if expected and expected != "*" and expected != etag_for(obj):
                raise PreconditionFailed()
        return obj

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return self._with_etag(Response(self.get_serializer(instance).data), instance)

    def update(self, request, *args, **kwargs):
        response = super().update(request, *args, **kwargs)
        return self._with_etag(response, self._written)

    def perform_update(self, serializer):
        super().perform_update(serializer)
        self._written = serializer.instance

    @staticmethod
    def _with_etag(response, instance):
        etag = etag_for(instance)
        if etag:
            response["ETag"] = etag
        return response


class PortalModelViewSet(PortalViewSetMixin, viewsets.ModelViewSet):
    """The base of every writable endpoint: list, retrieve, create, update, delete."""


class PortalReadOnlyViewSet(PortalViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """The base of every read-only endpoint: list and retrieve."""
