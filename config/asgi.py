"""ASGI entry point: Django (its handler as config/handler.py forks it) behind the
request-body limit."""

import os
from typing import Any

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

from config.body_limit import BodySizeLimit
from config.handler import FastASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

get_asgi_application()  # django.setup(), as Django's own entry point does
django_application: Any = FastASGIHandler()

if not settings.DEBUG and getattr(settings, "SECRET_KEY_IS_PLACEHOLDER", False):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set and DJANGO_DEBUG is off: refusing to serve with the "
        "development key. Set DJANGO_SECRET_KEY to a long random string (for example the "
        "output of: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

application = BodySizeLimit(django_application, max_bytes=settings.MAX_REQUEST_BODY_BYTES)
