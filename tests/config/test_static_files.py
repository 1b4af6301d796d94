"""Static files: the admin's CSS and Swagger UI's JS and CSS (drf-spectacular-sidecar),
served by the server itself through WhiteNoise, with no extra thread hop for the API."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.problems import assert_problem
from tests.servers import Server, running_servers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

A_YEAR_OR_MORE = re.compile(r"max-age=(\d+)")


def static_links(page: str) -> list[str]:
    """The /static/ URLs a page's <link> and <script> tags load."""
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


def assert_served(server: Server, url: str) -> httpx.Response:
    response = httpx.get(server.url + url)
    assert response.status_code == 200, url
    kind = {"css": "text/css", "js": "text/javascript"}[url.rsplit(".", 1)[-1]]
    assert response.headers["content-type"].startswith(kind), url
    assert response.content
    return response


@pytest.fixture(scope="module")
def production(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # DJANGO_DEBUG=0 with a collected STATIC_ROOT (tests.servers.collected_static_root).
    with running_servers(1, tmp_path_factory.mktemp("static")) as servers:
        yield servers[0]


@pytest.fixture(scope="module")
def development(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    # What `make run` starts: DEBUG on, and nothing collected (STATIC_ROOT does not exist).
    empty = tmp_path_factory.mktemp("static-dev") / "never-collected"
    with running_servers(
        1, tmp_path_factory.mktemp("dev"), DJANGO_DEBUG="1", DJANGO_STATIC_ROOT=str(empty)
    ) as servers:
        yield servers[0]


def test_the_admin_css_is_served_hashed_and_cached_for_a_year_in_production(production):
    page = httpx.get(production.url + "/admin/login/").text
    stylesheets = [u for u in static_links(page) if u.endswith(".css")]
    assert any(re.search(r"/admin/css/base\.[0-9a-f]{12}\.css$", u) for u in stylesheets), page

    for url in stylesheets:
        response = assert_served(production, url)
        cache = response.headers["cache-control"]
        assert "immutable" in cache and int(A_YEAR_OR_MORE.search(cache)[1]) >= 365 * 86400


def test_swagger_ui_js_and_css_are_served_gzipped_and_cached_in_production(production):
    page = httpx.get(production.url + "/v1/docs/").text
    sidecar = [
        u for u in static_links(page)
        if "/drf_spectacular_sidecar/" in u and u.endswith((".js", ".css"))
    ]  # fmt: skip
    assert {u.rsplit(".", 1)[-1] for u in sidecar} == {"js", "css"}, page

    for url in sidecar:
        response = assert_served(production, url)
        assert "immutable" in response.headers["cache-control"]
        assert response.headers["content-encoding"] == "gzip"  # httpx asked for it
        assert response.headers["vary"] == "Accept-Encoding"


def test_a_static_file_answers_head_and_304_and_a_missing_one_is_a_404(production):
    url = next(u for u in static_links(httpx.get(production.url + "/admin/login/").text))
    first = httpx.get(production.url + url)

    again = httpx.get(production.url + url, headers={"If-None-Match": first.headers["etag"]})

    assert again.status_code == 304 and again.content == b""
    head = httpx.head(production.url + url, headers={"Accept-Encoding": "identity"})
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(httpx.get(production.url + url).content)
    assert_problem(httpx.get(production.url + "/static/admin/css/nope.css"), 404, "not_found")


def test_make_run_serves_the_admin_and_swagger_ui_files_without_collectstatic(development):
    for page in ("/admin/login/", "/v1/docs/"):
        links = [u for u in static_links(httpx.get(development.url + page).text)
                 if u.endswith((".css", ".js"))]  # fmt: skip
        assert {u.rsplit(".", 1)[-1] for u in links} == {"css", "js"}, page
        for url in links:
            assert_served(development, url)
    # Unhashed names, straight from the installed apps.
    assert_served(development, "/static/admin/css/base.css")


def test_the_deploy_check_says_when_static_files_were_not_collected(settings, tmp_path):
    from django.core.checks import run_checks

    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

    def warned() -> bool:
        found = run_checks(include_deployment_checks=True, tags=["staticfiles"])
        return "coupons.W005" in {message.id for message in found}

    assert warned()
    (tmp_path / "staticfiles.json").write_text('{"paths": {}, "version": "1.1"}')
    assert not warned()
