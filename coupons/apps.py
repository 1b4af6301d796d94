from django.apps import AppConfig
from django.conf import settings


class CouponsConfig(AppConfig):
    name = "coupons"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from coupons import checks  # noqa: F401 - registers the deploy checks

        if settings.API_FAST_PATHS:
            from coupons.api.fastpaths import disconnect_request_started_receivers

            disconnect_request_started_receivers()
