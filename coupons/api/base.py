"""The base of every API view: adrf's APIView, with its dispatch in the event loop when
API_FAST_PATHS is on (coupons.api.fastpaths)."""

from __future__ import annotations

from adrf.views import APIView

from coupons.api import fastpaths

if fastpaths.ENABLED:

    class ApiView(fastpaths.EventLoopDispatch, APIView):
        pass

else:

    class ApiView(APIView):  # type: ignore[no-redef]
        pass
