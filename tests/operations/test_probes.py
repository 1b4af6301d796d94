"""Health probes and how the server starts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
async def test_healthz_answers_ok_without_a_key(api, path):
    response = await api.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_200_when_the_database_answers(api):
    response = await api.get("/readyz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def _import_asgi(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SECRET_KEY", "DJANGO_DEBUG"}}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="config.settings")
    return subprocess.run(
        [sys.executable, "-c", "import config.asgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_server_refuses_to_start_without_a_secret_when_debug_is_off():
    result = _import_asgi({"DJANGO_DEBUG": "0"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_server_starts_with_a_secret_or_in_debug():
    assert _import_asgi({"DJANGO_DEBUG": "0", "DJANGO_SECRET_KEY": "s" * 50}).returncode == 0
    assert _import_asgi({"DJANGO_DEBUG": "1"}).returncode == 0


async def test_the_admin_stylesheet_is_served_so_staff_get_a_styled_admin(api):
    response = await api.get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert "text/css" in response.headers["content-type"]


async def test_the_admin_login_page_renders(api):
    response = await api.get("/admin/login/")
    assert response.status_code == 200
    assert "csrfmiddlewaretoken" in response.text


def test_the_system_checks_pass():
    from django.core.management import call_command

    call_command("check", fail_level="WARNING")


def test_the_deploy_checks_pass_under_production_settings(settings):
    from django.core.management import call_command

    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    call_command("check", deploy=True, fail_level="WARNING")


def test_the_deploy_checks_say_that_the_old_proxy_setting_is_replaced(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.OLD_BEHIND_TLS_PROXY_SETTING, settings.FORWARDED_ALLOW_IPS = True, ""
    with pytest.raises(SystemCheckError, match="FORWARDED_ALLOW_IPS"):
        call_command("check", deploy=True, fail_level="WARNING")

    settings.FORWARDED_ALLOW_IPS = "10.0.0.2"
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.DEBUG = False
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    call_command("check", deploy=True, fail_level="WARNING")
