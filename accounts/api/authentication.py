from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts import services


class APITokenAuthentication(TokenAuthentication):
    """``Authorization: Token <key>`` with the portal's hashed, expiring API tokens.
    ``request.auth`` is the ``APIToken`` (its ``write_enabled`` is checked by RolePermission)."""

    def authenticate_credentials(self, key):
        token = services.authenticate_api_key(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return token.user, token


class APITokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.APITokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'API token, sent as "Token <key>"; create one with `create_api_token` '
            "or on the API tokens page.",
        }
