"""The operators' routes: probes and metrics, outside /v1/."""

from django.urls import path

from operations import views

urlpatterns = [
    path("healthz", views.HealthView.as_view()),
    path("healthz/", views.HealthView.as_view(), name="healthz"),
    path("readyz", views.ReadyView.as_view()),
    path("readyz/", views.ReadyView.as_view(), name="readyz"),
    path("metrics", views.metrics_view),
]
