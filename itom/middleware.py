import uuid

from itom.context import acting_as


class RequestContextMiddleware:
    """Gives every request an id (``X-Request-ID`` if the proxy sent a valid one) and makes the
    request the audit actor, so changes made while serving it are attributed to its user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            request_id = uuid.UUID(request.headers.get("X-Request-ID", ""))
        except ValueError:
            request_id = uuid.uuid4()
        request.id = request_id
        with acting_as(label="web", request_id=request_id, request=request):
            response = self.get_response(request)
        response["X-Request-ID"] = str(request_id)
        return response
