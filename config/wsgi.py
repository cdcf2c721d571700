"""The WSGI application: Django, with the public status documents answered
from prebuilt copies before it (config.prebuilt)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after setup

from config.prebuilt import PrebuiltPages  # noqa: E402


def without_process_environment(app, inherited: dict[str, str]):
    """Some servers (granian, which `make run` uses) start each request's
    environ from the process environment, as PEP 3333 allows: the secret key
    and the database URL would then sit in every request.META, where an
    error report could show them. What the request did not bring is dropped
    before Django sees it (a request value overrides the process's, so a key
    still holding the process's value came from it)."""

    def stripped(environ, start_response):
        for key, value in inherited.items():
            if environ.get(key) == value:
                del environ[key]
        return app(environ, start_response)

    return stripped


application = without_process_environment(
    PrebuiltPages(django_application, paths=settings.PREBUILT_PATHS), dict(os.environ)
)

# Everything loaded so far (Django, the apps, their modules) lives as long as
# the process: out of the garbage collector's sight, so its full passes do not
# walk it again and again while requests wait.
gc.freeze()
