from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core import checks  # noqa: F401 - registers the deploy checks
        from core.api.forks import disconnect_request_started_receivers

        disconnect_request_started_receivers()
