from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import ApiToken


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` against hashed, expiring keys."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        token = (
            ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token; log in again to get a new one.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("Token has expired; log in again.")
        user = token.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed("This account has been deactivated.")
        if not user.is_approved:
            raise exceptions.AuthenticationFailed("This account is not approved; sign in again.")
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return user, token


class ExpiringTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ExpiringTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication: "Token <key>" from /api/login/.',
        }
