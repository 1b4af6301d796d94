"""Request ids, the access log and metrics for every request, in one async middleware that
costs no thread hop (the rest of the chain: settings.MIDDLEWARE)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from config.observability import REQUEST_ID_HEADER, record, request_id_of

Handler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class RequestObservability:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response: Handler) -> None:
        assert iscoroutinefunction(get_response)
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = request.META["coupons.request_id"] = request_id_of(request)
        response = await self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        record(request, response, started=started)
        return response
