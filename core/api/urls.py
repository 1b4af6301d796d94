"""Routes of the whole API's own: the OpenAPI document and Swagger UI under /v1/, the `id`
path converter every app's routes use, and a 404 problem for every path no route takes
(config/urls.py includes this last)."""

import uuid
from typing import Any

from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView
from rest_framework.negotiation import DefaultContentNegotiation

from core.api import problems
from core.api.http import options_response


class JsonOptions:
    """OPTIONS as on the API's own views (DRF's would render the docs page's template)."""

    allowed_methods: list[str]

    # Typed loosely: DRF's stubs say Response, Django's View says HttpResponse.
    def options(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        return options_response(self.allowed_methods)


class SchemaView(JsonOptions, SpectacularJSONAPIView):
    """The OpenAPI 3 document, as JSON, for everyone (it holds no secrets)."""

    content_negotiation_class = DefaultContentNegotiation

    def _get_version_parameter(self, request: Any) -> None:
        # One API version, and drf-spectacular copies `?version=` into the Content-Disposition
        # filename (a CR LF was a 500, a NUL cut the connection): the parameter is ignored.
        return None


class DocsView(JsonOptions, SpectacularSwaggerView):
    """Swagger UI, its files served by this server."""


class AnyCaseUUIDConverter:
    """A UUID in any letter case; anything else does not match, so it is a 404."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> uuid.UUID:
        return uuid.UUID(value)

    def to_url(self, value: uuid.UUID) -> str:
        return str(value)


register_converter(AnyCaseUUIDConverter, "id")

urlpatterns = [
    # Not on the hot paths: config/urls.py tries every app's routes first.
    path("v1/schema/", SchemaView.as_view(), name="schema"),
    path("v1/docs/", DocsView.as_view(url_name="schema"), name="docs"),
    # /static/ is served before routing, by config.middleware (WhiteNoise); a path there
    # with no file falls through to this 404 like any other.
    re_path(r"^", problems.route_not_found),
]
