from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "coupons"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core.signals import request_started
        from django.db import close_old_connections, reset_queries

        from coupons import checks  # noqa: F401 - registers the deploy checks

        # Under ASGI each request starts in a fresh context with no database connection
        # yet, so these two sync receivers have nothing to do at request start; as sync
        # receivers of an async signal they cost every request a thread hop. (At request
        # end, close_old_connections still runs and returns any connection to the pool.)
        request_started.disconnect(reset_queries)
        request_started.disconnect(close_old_connections)
