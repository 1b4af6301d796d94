"""Redemption groups in the admin: a redemption shows its group and links to its siblings, and
a group is reverted (a button on its page, or an action on the list) through the service
the API's revert uses."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from coupons.models import Coupon, Redemption
from coupons.services import groups, redemptions
from events.models import Event
from tests.factories import broken_invariants, make_coupon

pytestmark = pytest.mark.django_db(transaction=True)


def group_of_three() -> groups.GroupRecord:
    for code in ("G-A", "G-B", "G-C"):
        make_coupon(code, init_count=5)
    return groups.redeem_codes(codes=["g-a", "G-B", "g-c"], customer_id="c-1", order_id="o-1")


def remaining() -> dict[str, int]:
    return dict(Coupon.objects.values_list("code", "remaining_count"))


def test_a_redemption_page_shows_its_group_and_links_to_its_siblings(staff):
    group = group_of_three()
    first, *others = group.redemptions

    page = staff.get(reverse("admin:coupons_redemption_change", args=[first.id]))

    html = page.content.decode()
    assert page.status_code == 200
    assert reverse("admin:coupons_redemptiongroup_change", args=[group.id]) in html
    for sibling in others:
        link = reverse("admin:coupons_redemption_change", args=[sibling.id])
        assert f'<a href="{link}">{sibling.code}</a>' in html
    own = reverse("admin:coupons_redemption_change", args=[first.id])
    assert f'<a href="{own}">' not in html  # itself is not its sibling


def test_a_redemption_alone_says_so(staff):
    make_coupon("ALONE", init_count=2)
    redemption = redemptions.redeem_coupon(code="ALONE")

    html = staff.get(reverse("admin:coupons_redemption_change", args=[redemption.id])).content
    assert "redeemed alone" in html.decode()


def test_a_group_page_lists_its_members_and_its_button_reverts_them_all_once(staff):
    group = group_of_three()
    change = reverse("admin:coupons_redemptiongroup_change", args=[group.id])
    page = staff.get(change).content.decode()
    for member in group.redemptions:
        assert reverse("admin:coupons_redemption_change", args=[member.id]) in page
    (action,) = re.findall(r'formaction="([^"]+)"', page)
    assert staff.get(action).status_code == 405

    done = staff.post(action, follow=True)
    again = staff.post(action, follow=True)

    assert "Reverted every live redemption" in done.content.decode()
    assert "already reverted" in again.content.decode().lower()
    assert remaining() == {"G-A": 5, "G-B": 5, "G-C": 5}
    assert not Redemption.objects.filter(reverted_at__isnull=True).exists()
    reverted = Event.objects.filter(type="redemption.reverted")
    assert sorted(e.data["group_id"] for e in reverted) == [str(group.id)] * 3
    assert broken_invariants() == []


def test_the_list_action_reverts_the_selected_groups(staff):
    group = group_of_three()
    for code in ("H-A", "H-B"):
        make_coupon(code, init_count=5)
    other = groups.redeem_codes(codes=["H-A", "H-B"])
    groups.revert_redemption_group(other.id)
    url = reverse("admin:coupons_redemptiongroup_changelist")

    answer = staff.post(
        url, {"_selected_action": [str(group.id), str(other.id)], "action": "revert"}, follow=True
    )

    assert "Reverted 1; 1 had nothing live." in answer.content.decode()
    assert remaining() == {"G-A": 5, "G-B": 5, "G-C": 5, "H-A": 5, "H-B": 5}
    assert broken_invariants() == []


def test_staff_who_may_only_look_cannot_revert_a_group(transactional_db):
    group = group_of_three()
    viewer = User.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_redemptiongroup"))
    client = Client()
    client.force_login(viewer)
    page = client.get(reverse("admin:coupons_redemptiongroup_change", args=[group.id]))
    assert page.status_code == 200 and "formaction" not in page.content.decode()

    refused = client.post(reverse("admin:coupons_redemptiongroup_revert", args=[group.id]))

    assert refused.status_code == 403
    assert remaining() == {"G-A": 4, "G-B": 4, "G-C": 4}
