"""The admin as browsers reach it, through the ASGI app (Django's test client takes the sync
path, where a lazy user may touch the database): redirects, stray session cookies and
failed CSRF checks are answered, logged and counted, never a 500."""

from __future__ import annotations

import logging

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db(transaction=True)

STRAY_SESSION = "abcdefghijklmnopqrstuvwxyz012345"


@sync_to_async
def staff_session_cookie() -> str:
    user = User.objects.create_superuser("boss", "boss@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "coupons.access"]


async def test_the_admin_without_its_slash_redirects_logged_in_staff(api, caplog):
    session = await staff_session_cookie()
    with caplog.at_level(logging.INFO, logger="coupons.access"):
        response = await api.get("/admin", headers={"Cookie": f"sessionid={session}"})

    assert response.status_code == 301
    assert response.headers["location"] == "/admin/"
    [line] = access_lines(caplog)
    assert line.status == 301


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/coupons/coupon/"])
async def test_a_stray_session_cookie_is_no_login_and_no_error(api, caplog, path):
    with caplog.at_level(logging.INFO, logger="coupons.access"):
        response = await api.get(path, headers={"Cookie": f"sessionid={STRAY_SESSION}"})

    assert response.status_code in (301, 302), response.text[:500]
    if response.status_code == 302:
        assert response.headers["location"].startswith("/admin/login/")
    assert [r.status for r in access_lines(caplog)] == [response.status_code]


@pytest.mark.parametrize("path", ["/admin/login/", "/admin/coupons/coupon/add/"])
async def test_a_post_without_its_csrf_token_is_403(api, caplog, path):
    session = await staff_session_cookie()
    with caplog.at_level(logging.INFO, logger="coupons.access"):
        response = await api.post(
            path, data={"code": "X"}, headers={"Cookie": f"sessionid={session}"}
        )

    assert response.status_code == 403
    assert [r.status for r in access_lines(caplog)] == [403]
