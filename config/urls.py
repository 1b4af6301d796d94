"""Root routes: the API under /v1/, operations probes, the admin; everything else a 404 problem."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config.observability import metrics_view
from coupons.api import problems, views

# The API first: Django tries the routes in order, and every miss costs a match attempt
# on every API request.
urlpatterns = [
    path("v1/", include("coupons.api.urls")),
    path("healthz", views.HealthView.as_view()),
    path("healthz/", views.HealthView.as_view(), name="healthz"),
    path("readyz", views.ReadyView.as_view()),
    path("readyz/", views.ReadyView.as_view(), name="readyz"),
    path("metrics", metrics_view),
    path("admin", RedirectView.as_view(url="/admin/", permanent=True)),
    path("admin/", admin.site.urls),
]

# /static/ is served before routing, by config.middleware (WhiteNoise); a path there with
# no file falls through to this 404 like any other.
urlpatterns.append(re_path(r"^", problems.route_not_found))

handler400 = "coupons.api.problems.bad_request"
handler403 = "coupons.api.problems.permission_denied"
handler404 = "coupons.api.problems.page_not_found"
handler500 = "coupons.api.problems.server_error"
