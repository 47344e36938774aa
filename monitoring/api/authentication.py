"""Integration tokens on the inbound endpoints: ``Authorization: Bearer <token>`` (what
Alertmanager's ``http_config.authorization`` sends) or ``Token <token>``.

``request.user`` stays anonymous and ``request.auth`` is the ``Integration``. An unknown, disabled or
malformed token is a 401; ``IntegrationPermission`` turns an integration of another kind away
(403). On ``metrics/`` a user's API token is accepted too: there this class only claims the
integration-shaped tokens (``itomi_…``) and a ``Bearer`` one, and leaves ``Token itom_…`` to
``APITokenAuthentication`` (the view's ``accepts_user_tokens``).
"""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from monitoring.models import Integration
from monitoring.services import integrations

SCHEMES = ("bearer", "token")


class IntegrationTokenAuthentication(BaseAuthentication):
    """The integration a token belongs to. On a view with ``accepts_user_tokens`` it leaves
    ``Token <key>`` headers that are not integration tokens to the next authentication class."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower().decode(errors="replace") not in SCHEMES:
            return None
        scheme = parts[0].lower().decode()
        view = (getattr(request, "parser_context", None) or {}).get("view")
        claim_all = not getattr(view, "accepts_user_tokens", False)
        if len(parts) != 2:
            if not claim_all and scheme == "token":
                return None
            raise exceptions.AuthenticationFailed("Invalid Authorization header: give “Bearer <token>”.")
        try:
            token = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        if not claim_all and scheme == "token" and not integrations.looks_like_token(token):
            return None
        integration = integrations.authenticate(token)
        if integration is None:
            raise exceptions.AuthenticationFailed("Unknown or disabled integration token.")
        return AnonymousUser(), integration

    def authenticate_header(self, request):
        return 'Bearer realm="integrations"'


class IntegrationPermission(BasePermission):
    """An integration of the view's ``integration_kind`` (403 for another kind)."""

    def has_permission(self, request, view):
        integration = request.auth
        if not isinstance(integration, Integration):
            return False
        if integration.kind != view.integration_kind:
            self.message = (
                f"This token belongs to a {integration.get_kind_display()} integration; "
                f"this endpoint takes {view.integration_kind} integrations."
            )
            return False
        return True


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    target_class = "monitoring.api.authentication.IntegrationTokenAuthentication"
    name = "integrationToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An integration's token (`itomi_…`), shown once when the integration is created or "
            "its token rotated.",
        }
