"""The event log's routes under /v1/."""

from django.urls import path

from core.api import urls as _core_urls  # noqa: F401 - registers the `id` converter
from events.api import views as event_views

urlpatterns = [
    path("events/", event_views.EventCollectionView.as_view(), name="event-collection"),
    path("events/<id:event_id>/", event_views.EventDetailView.as_view(), name="event-detail"),
]
