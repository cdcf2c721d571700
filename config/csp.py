"""Content-Security-Policy on every HTML page.

Scripts come only from our own static files (no inline script, no inline
event handler, no eval), so an injected <script> or onerror= never runs.
Inline style attributes stay allowed: the templates size progress bars with
them and htmx adds its indicator style, and a style cannot run code. A
response that already carries a policy (a download sandboxed on purpose)
keeps its own."""

from django.conf import settings


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        content_type = response.get("Content-Type", "")
        if policy and content_type.startswith("text/html"):
            response.headers.setdefault("Content-Security-Policy", policy)
        return response
