"""The base of every API view: adrf's APIView, with its dispatch in the event loop
(core.api.forks)."""

from __future__ import annotations

from typing import Any

from adrf.views import APIView
from django.http import HttpResponse

from core.api import forks
from core.api.http import options_response


class _OptionsMixin:
    async def options(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        """What the route serves, in `Allow` and as JSON. DRF's own answer is a Response
        for renderers these views do not use (awaited in an async view: a 500). What a route
        serves is public (the OpenAPI document tells anyone) and a preflight carries no key,
        so `HasScope` lets OPTIONS through."""
        return options_response(self.allowed_methods)  # type: ignore[attr-defined]


class ApiView(_OptionsMixin, forks.EventLoopDispatch, APIView):
    pass
