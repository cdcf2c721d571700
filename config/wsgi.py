"""The WSGI application: Django, with the public status documents answered
from prebuilt copies before it (config.prebuilt)."""

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402 - after setup

from config.prebuilt import PrebuiltPages  # noqa: E402

application = PrebuiltPages(django_application, paths=settings.PREBUILT_PATHS)

# Everything loaded so far (Django, the apps, their modules) lives as long as
# the process: out of the garbage collector's sight, so its full passes do not
# walk it again and again while requests wait.
gc.freeze()
