"""Bearer API keys: missing, unknown, revoked, and scopes."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from asgiref.sync import sync_to_async

from access.models import ApiKey
from access.services import api_keys
from coupons.models import Coupon
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db(transaction=True)

COUPON = {"code": "AUTH", "init_count": 1}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token cpn_x",
        "Bearer cpn_unknown",
        "Bearer " + "x" * 5000,
    ],
)
async def test_a_missing_or_unknown_key_is_401_with_a_bearer_challenge(api, authorization):
    headers = {"Authorization": authorization} if authorization is not None else {}
    response = await api.post("/v1/coupons/", json=COUPON, headers=headers)

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_every_v1_route_needs_a_key(api):
    for method, path in [("POST", "/v1/coupons/"), ("GET", f"/v1/coupons/{uuid.uuid4()}/")]:
        response = await api.request(method, path)
        assert_problem(response, 401, "unauthenticated")


async def test_a_revoked_key_is_401(api, manage_key):
    headers = {"Authorization": f"Bearer {manage_key}"}
    assert (await api.post("/v1/coupons/", json=COUPON, headers=headers)).status_code == 201

    key_id = await ApiKey.objects.values_list("pk", flat=True).aget(
        key_hash=api_keys.hash_api_key(manage_key)
    )
    await sync_to_async(api_keys.revoke_api_key)(key_id)

    response = await api.get(f"/v1/coupons/{uuid.uuid4()}/", headers=headers)
    assert_problem(response, 401, "unauthenticated")


async def test_a_redeem_key_may_not_manage_coupons(api, redeem):
    for method, path in [("POST", "/v1/coupons/"), ("GET", f"/v1/coupons/{uuid.uuid4()}/")]:
        response = await api.request(method, path, json=COUPON, headers=redeem)
        assert_problem(response, 403, "permission_denied")


async def test_a_forbidden_request_changes_nothing(api, redeem):
    await api.post("/v1/coupons/", json=COUPON, headers=redeem)
    assert not await Coupon.objects.aexists()


async def test_a_manage_key_may_manage_coupons(api, manage):
    response = await api.post("/v1/coupons/", json=COUPON, headers=manage)
    assert response.status_code == 201


async def test_the_scheme_name_is_case_insensitive(api, manage_key):
    response = await api.post(
        "/v1/coupons/", json=COUPON, headers={"Authorization": f"bearer {manage_key}"}
    )
    assert response.status_code == 201


async def test_only_a_hash_of_the_key_is_stored_and_last_use_is_recorded(api, manage_key):
    row = await ApiKey.objects.aget(prefix=manage_key[:12])
    assert row.key_hash == hashlib.sha256(manage_key.encode()).hexdigest()
    assert manage_key not in {str(v) for v in row.__dict__.values()} - {row.key_hash}
    assert row.last_used_at is None

    await api.post("/v1/coupons/", json=COUPON, headers={"Authorization": f"Bearer {manage_key}"})

    await row.arefresh_from_db()
    assert row.last_used_at is not None


def test_create_api_key_prints_the_key_as_its_last_line(transactional_db):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_api_key", "checkout", "--scope", "manage", stdout=out, stderr=StringIO())

    key = out.getvalue().strip().splitlines()[-1]
    row = ApiKey.objects.get(key_hash=api_keys.hash_api_key(key))
    assert (row.name, row.scope, row.revoked_at) == ("checkout", "manage", None)


def test_the_key_cache_forgets_a_revoked_key_at_once_in_this_process(transactional_db, settings):
    settings.API_KEY_CACHE_SECONDS = 60
    api_key, plain = api_keys.create_api_key(name="cached", scope="redeem")
    assert api_keys.key_holder(plain) is not None  # now cached

    api_keys.revoke_api_key(api_key.pk)

    assert api_keys.key_holder(plain) is None
