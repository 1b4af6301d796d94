"""Root routes: the API under /v1/, operations probes, the admin; everything else a 404 problem."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
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

if settings.SERVE_STATIC:
    # The admin's CSS and JS, straight from the installed apps: uvicorn serves no files
    # itself. Put a CDN or proxy in front and set SERVE_STATIC=0 to skip this.
    urlpatterns.append(re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}))

urlpatterns.append(re_path(r"^", problems.route_not_found))

handler400 = "coupons.api.problems.bad_request"
handler403 = "coupons.api.problems.permission_denied"
handler404 = "coupons.api.problems.page_not_found"
handler500 = "coupons.api.problems.server_error"
