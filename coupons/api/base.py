"""The base of every API view: adrf's APIView, with its dispatch in the event loop when
API_FAST_PATHS is on (coupons.api.fastpaths)."""

from __future__ import annotations

from typing import Any

from adrf.views import APIView
from django.http import HttpResponse

from coupons.api import fastpaths
from coupons.api.http import options_response


class _OptionsMixin:
    async def options(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        """What the route serves, in `Allow` and as JSON. DRF's own answer is a Response
        for renderers these views do not use (awaited in an async view: a 500). What a route
        serves is public (the OpenAPI document tells anyone) and a preflight carries no key,
        so `HasScope` lets OPTIONS through."""
        return options_response(self.allowed_methods)  # type: ignore[attr-defined]


if fastpaths.ENABLED:

    class ApiView(_OptionsMixin, fastpaths.EventLoopDispatch, APIView):
        pass

else:

    class ApiView(_OptionsMixin, APIView):  # type: ignore[no-redef]
        pass
