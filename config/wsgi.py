"""The WSGI application: Django, with the public status documents answered
from prebuilt copies before it (config.prebuilt)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after setup

from config.prebuilt import PrebuiltPages  # noqa: E402

application = PrebuiltPages(django_application, paths=settings.PREBUILT_PATHS)
