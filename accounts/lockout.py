from django.http import JsonResponse
from django.shortcuts import render

LOCKOUT_SENTENCE = (
    "Too many failed sign-in attempts. This account is locked for {minutes} minutes; "
    "try again later or ask an administrator."
)


def lockout_minutes() -> int:
    from django.conf import settings

    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request, credentials=None, *args, **kwargs):
    """What django-axes answers while an account/address pair is locked out."""
    message = LOCKOUT_SENTENCE.format(minutes=lockout_minutes())
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "locked_out"}, status=429)
    return render(request, "web/locked_out.html", {"message": message}, status=429)
