"""The webhook endpoints' routes under /v1/."""

from django.urls import path

from core.api import urls as _core_urls  # noqa: F401 - registers the `id` converter
from webhooks.api import views as webhook_views

urlpatterns = [
    path(
        "webhook-endpoints/",
        webhook_views.WebhookEndpointCollectionView.as_view(),
        name="webhook-endpoint-collection",
    ),
    path(
        "webhook-endpoints/<id:endpoint_id>/",
        webhook_views.WebhookEndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<id:endpoint_id>/deliveries/",
        webhook_views.WebhookDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
]
