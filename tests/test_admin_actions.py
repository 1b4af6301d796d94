"""Every admin action of every registered ModelAdmin, found in the admin's registry (so a new
action is covered when it is added): each declares the permissions it needs, and staff who
may only view are refused every action that writes, with nothing changed."""

from __future__ import annotations

from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.options import ActionLocation
from django.contrib.auth.models import Group, Permission, User
from django.contrib.sessions.models import Session
from django.db.models import Model
from django.test import Client, RequestFactory
from django.urls import reverse

from access.services import api_keys
from coupons.services import campaigns, groups, redemptions, reservations
from coupons.tasks import sweep_expired_holds_task
from tests.factories import make_coupon
from webhooks.models import WebhookEndpoint
from webhooks.services import endpoints as webhooks
from webhooks.services.fanout import queue_test_delivery

pytestmark = pytest.mark.django_db(transaction=True)


def registered_actions() -> list[tuple[type[Model], ActionLocation, str, Any]]:
    """(model, where, action name, action function) for every action the registry offers
    anyone, on the change list and on the change form, the site-wide ones (delete_selected)
    included."""
    registry: dict[type[Model], Any] = admin.site._registry
    return [
        (model, where, action.name, action.func)
        for model, model_admin in registry.items()
        for where in ActionLocation
        for action in model_admin._get_base_actions(action_location=where)
    ]


ACTIONS = registered_actions()


def reads_only(func: Any) -> bool:
    return tuple(getattr(func, "allowed_permissions", ())) == ("view",)


def database_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table but the sessions (a login writes one)."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for model in apps.get_models()
        if model is not Session
    }


@pytest.fixture
def world(settings: Any) -> None:
    """One row at least of every registered model, for the actions to select."""
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    campaign = campaigns.create_campaign(name="Spring")
    make_coupon("ACT-1", init_count=5, campaign_id=campaign.id)
    make_coupon("ACT-2", init_count=5)
    redemptions.redeem_coupon(code="ACT-1")
    reservations.hold_coupon(code="ACT-2", ttl_seconds=600)
    make_coupon("ACT-3", init_count=5)
    groups.redeem_codes(codes=["ACT-2", "ACT-3"])
    api_keys.create_api_key(name="shop", scope="redeem")
    endpoint = webhooks.create_endpoint(url="https://127.0.0.1/hook", events=["*"])
    queue_test_delivery(endpoint.pk)
    Group.objects.create(name="clerks")
    sweep_expired_holds_task.enqueue()


@pytest.fixture
def viewer(transactional_db: Any) -> Client:
    """Staff holding every view_* permission and no other."""
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client = Client()
    client.force_login(user)
    return client


def test_every_admin_action_declares_the_permissions_it_needs():
    undeclared = [
        f"{model._meta.label}.{name}"
        for model, _, name, func in ACTIONS
        if not getattr(func, "allowed_permissions", None)
    ]
    assert not undeclared


@pytest.mark.parametrize(
    ("model", "where", "name", "func"),
    ACTIONS,
    ids=[f"{m._meta.label}.{n}@{w.value}" for m, w, n, _ in ACTIONS],
)
def test_view_only_staff_are_refused_every_action_that_writes(
    world, viewer, model, where, name, func
):
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="viewer")
    offered = name in model_admin.get_actions(request, action_location=where)
    selected = [str(pk) for pk in model_admin.get_queryset(request).values_list("pk", flat=True)]
    assert selected, f"the world has no {model._meta.label} to select"
    before = database_state()

    meta = model._meta
    if where is ActionLocation.CHANGE_LIST:
        # "post" confirms an action that asks first (delete_selected).
        data = {ACTION_CHECKBOX_NAME: selected, "action": name, "index": 0, "post": "yes"}
        viewer.post(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"), data)
    else:
        for pk in selected:
            data = {ACTION_CHECKBOX_NAME: [pk], f"{where.value}-action": name, "post": "yes"}
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])
            viewer.post(url, data)

    assert database_state() == before
    assert offered == reads_only(func)


def test_staff_allowed_to_change_an_endpoint_may_disable_it(world, viewer):
    # The refusal above is the permission's doing: granted it, the same post disables.
    user = User.objects.get(username="viewer")
    user.user_permissions.add(Permission.objects.get(codename="change_webhookendpoint"))
    endpoint = WebhookEndpoint.objects.get()

    viewer.post(
        reverse("admin:webhooks_webhookendpoint_changelist"),
        {ACTION_CHECKBOX_NAME: [str(endpoint.pk)], "action": "disable", "index": 0},
    )

    endpoint.refresh_from_db()
    assert not endpoint.is_active
