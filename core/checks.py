"""Deploy checks for what Django's own cannot see: its security checks look for the stock
middleware in MIDDLEWARE, and it runs inside core.api.forks.AdminOnlyMiddleware instead."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def security_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    found: list[CheckMessage] = []
    # Django's own checks of these three (security.W001-W003) look for the stock middleware
    # in MIDDLEWARE, and it runs inside core.api.forks.AdminOnlyMiddleware instead.
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


@register(Tags.staticfiles, deploy=True)
def static_files_collected(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """With DEBUG off the admin's pages name their files by the hashes in STATIC_ROOT's
    manifest: without `collectstatic` every admin page is a 500."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage

    if settings.DEBUG or not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    if staticfiles_storage.exists(staticfiles_storage.manifest_name):
        return []
    return [
        Warning(
            f"No {staticfiles_storage.manifest_name} in STATIC_ROOT ({settings.STATIC_ROOT}): "
            "run `python manage.py collectstatic --noinput` (the Docker image does, at build).",
            id="coupons.W005",
        )
    ]
