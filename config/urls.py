"""Root routes: each app's API under /v1/, the operators' probes, the admin; everything
else a 404 problem. By dotted path only: config imports nothing from the apps."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

# The API first: Django tries the routes in order, and every miss costs a match attempt
# on every API request.
urlpatterns = [
    path("v1/", include("coupons.api.urls")),
    path("v1/", include("events.api.urls")),
    path("v1/", include("webhooks.api.urls")),
    path("", include("operations.urls")),
    path("admin", RedirectView.as_view(url="/admin/", permanent=True)),
    path("admin/", admin.site.urls),
    path("", include("core.api.urls")),  # the OpenAPI document, Swagger UI, and 404s
]

handler400 = "core.api.problems.bad_request"
handler403 = "core.api.problems.permission_denied"
handler404 = "core.api.problems.page_not_found"
handler500 = "core.api.problems.server_error"
