from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import SessionAuthentication, TokenAuthentication

from accounts.models import ApiToken

EMAIL_UNCONFIRMED_CODE = "email_unconfirmed"


def account_gate(request, user) -> None:
    """Every API request, whichever way it signs in, passes here: a
    deactivated or unapproved account is signed out, and a customer who has
    not confirmed their address reaches only the views that say
    `allow_unconfirmed_email = True` (who am I, sign out, send the link
    again). Views added later inherit this without doing anything."""
    if not user.is_active:
        raise exceptions.AuthenticationFailed("This account has been deactivated.")
    if not user.is_approved:
        raise exceptions.AuthenticationFailed("This account is not approved; sign in again.")
    if user.email_unconfirmed:
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if not getattr(view, "allow_unconfirmed_email", False):
            from accounts.services import EMAIL_UNCONFIRMED_SENTENCE

            raise exceptions.PermissionDenied(
                detail=EMAIL_UNCONFIRMED_SENTENCE, code=EMAIL_UNCONFIRMED_CODE
            )


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` against hashed, expiring keys."""

    keyword = "Token"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            account_gate(request, result[0])
        return result

    def authenticate_credentials(self, key):
        token = (
            ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token; log in again to get a new one.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("Token has expired; log in again.")
        user = token.user
        now = timezone.now()
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return user, token


class AccountSessionAuthentication(SessionAuthentication):
    """Django's session sign-in, held to the same account rules as tokens: a
    session does not outlive the account's deactivation or rejection."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            account_gate(request, result[0])
        return result


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


class AccountSessionScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.AccountSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        from django.conf import settings

        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
