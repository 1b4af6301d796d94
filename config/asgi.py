"""ASGI entry point: Django behind the request-body limit."""

import os
from typing import Any

from django.conf import settings
from django.core.asgi import get_asgi_application
from django.core.exceptions import ImproperlyConfigured

from config.body_limit import BodySizeLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

django_application = get_asgi_application()


class ASGIHandler(type(django_application)):  # type: ignore[misc]
    """Django's handler, without a new thread per API request.

    Django wraps every request in a ThreadSensitiveContext, so the request's first
    thread-sensitive hop starts a thread (and its end joins it). API views make their
    database hops in asgiref's shared pool (`repository.in_worker`), so on API paths that
    thread would only run `response.close()`: skipped there, which costs nothing but a
    quick call on asgiref's one shared thread. The admin, static files and the schema
    views are sync code and keep their own thread.
    """

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and _is_api_path(scope["path"]):
            await self.handle(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _is_api_path(path: str) -> bool:
    if path in ("/healthz", "/readyz", "/healthz/", "/readyz/"):
        return True
    return path.startswith("/v1/") and not path.startswith(("/v1/schema", "/v1/docs"))


django_application = ASGIHandler()

if not settings.DEBUG and getattr(settings, "SECRET_KEY_IS_PLACEHOLDER", False):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is not set and DJANGO_DEBUG is off: refusing to serve with the "
        "development key. Set DJANGO_SECRET_KEY to a long random string (for example the "
        "output of: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

application = BodySizeLimit(django_application, max_bytes=settings.MAX_REQUEST_BODY_BYTES)
