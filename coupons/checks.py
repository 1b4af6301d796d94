"""Deploy checks for what Django's own cannot see: its security checks look for the stock
middleware in MIDDLEWARE, and ours runs it inside config.middleware.SiteMiddleware."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def security_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    if settings.MIDDLEWARE != ["config.middleware.SiteMiddleware"]:
        found.append(Warning("MIDDLEWARE changed: re-enable Django's security.W001-W003 checks.",
                             id="coupons.W000"))  # fmt: skip
    if not settings.SECURE_HSTS_SECONDS:
        found.append(
            Warning("SECURE_HSTS_SECONDS is 0: set DJANGO_HSTS_SECONDS.", id="coupons.W001")
        )
    if not settings.SECURE_CONTENT_TYPE_NOSNIFF:
        found.append(Warning("SECURE_CONTENT_TYPE_NOSNIFF is off.", id="coupons.W002"))
    if settings.X_FRAME_OPTIONS != "DENY":
        found.append(Warning("X_FRAME_OPTIONS should be DENY.", id="coupons.W003"))
    if settings.OLD_BEHIND_TLS_PROXY_SETTING and not settings.FORWARDED_ALLOW_IPS:
        found.append(
            Warning(
                "DJANGO_BEHIND_TLS_PROXY is no longer read: set FORWARDED_ALLOW_IPS to the TLS "
                "proxy's addresses (bin/serve passes them to uvicorn).",
                id="coupons.W004",
            )
        )
    return found
