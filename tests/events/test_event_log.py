"""The log's order: a poller that follows the cursor sees every committed event exactly
once, even when transactions commit in another order than they began, and never an event
of a change that rolled back."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction

from coupons.domain.discounts import Discount, Order
from coupons.models import Coupon
from coupons.services.coupons import create_coupon
from coupons.services.redemptions import get_redemption, redeem_coupon
from coupons.shapes import COUPON, REDEMPTION
from events.models import Event
from events.services.log import EventCursor, events_after
from tests.events.helpers import wait_for_log

pytestmark = pytest.mark.django_db(transaction=True)


def follow(cursor: EventCursor | None) -> tuple[list[str], EventCursor]:
    """Every event after `cursor` available now, by pages of 2, and the cursor after."""
    codes: list[str] = []
    while True:
        events, cursor = events_after(cursor, limit=2)
        if not events:
            return codes, cursor
        codes.extend(e.data["code"] for e in events)


@pytest.mark.postgres
def test_a_poller_sees_both_when_the_earlier_begun_transaction_commits_last():
    early_wrote, late_committed, polled = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def early() -> None:
        try:
            with transaction.atomic():
                create_coupon(code="EARLY", init_count=1)  # its event takes the lower position
                early_wrote.set()
                assert polled.wait(10)  # commits only once LATE has and a poller looked
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)
            early_wrote.set()
        finally:
            connections.close_all()

    def late() -> None:
        try:
            assert early_wrote.wait(10)
            create_coupon(code="LATE", init_count=1)
        finally:
            late_committed.set()
            connections.close_all()

    first = threading.Thread(target=early)
    second = threading.Thread(target=late)
    first.start()
    second.start()
    assert late_committed.wait(15)
    # LATE has committed, EARLY not yet: a cursor on "the last position seen" would move
    # past EARLY's lower position here and never see it.
    seen, cursor = follow(None)
    polled.set()
    assert "EARLY" not in seen and "LATE" not in seen
    first.join(15)
    second.join(15)
    assert not failures, failures

    wait_for_log()
    more, cursor = follow(cursor)
    seen += more
    assert sorted(seen) == ["EARLY", "LATE"]
    assert seen == ["EARLY", "LATE"]  # in the order the transactions began
    again, _ = follow(cursor)
    assert again == []


def test_an_event_of_a_rolled_back_change_never_appears():
    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        create_coupon(code="GONE", init_count=1)
        assert Event.objects.filter(data__code="GONE").exists()  # written, in the transaction
        raise Undo
    create_coupon(code="KEPT", init_count=1)

    wait_for_log()
    seen, _ = follow(None)
    assert seen == ["KEPT"]
    assert not Event.objects.filter(data__code="GONE").exists()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("discount", "fields"),
    [
        (None, {}),
        (
            Discount(percent_off=Decimal("12.5"), currency="EUR", max_amount_off=100),
            {"order": Order(amount=999, currency="EUR"), "order_id": "o-1",
             "metadata": {"k": "v"}},
        ),
    ],
)  # fmt: skip
def test_the_fast_path_s_event_is_the_api_s_redemption_in_the_same_transaction(discount, fields):
    create_coupon(code="FAST", init_count=3, discount=discount)
    # A plain coupon with uses to spare: the one-statement path (coupons.db.raw).
    redemption = redeem_coupon(code="fast", customer_id="c", **fields)
    assert REDEMPTION(redemption) == REDEMPTION(get_redemption(redemption.id))
    event = Event.objects.get(type="redemption.created")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT xmin::text FROM coupons_redemption WHERE id = %s),"
            " (SELECT txid::text FROM coupons_event WHERE id = %s)",
            [redemption.id, event.id],
        )
        redemption_xid, event_txid = cursor.fetchone()
    # The same transaction wrote both (xmin: the 32-bit xid; txid: the 64-bit one).
    assert int(event_txid) % 2**32 == int(redemption_xid)
    assert event.data == REDEMPTION(get_redemption(redemption.id))
    assert event.data["remaining_count"] == 2


def test_generate_coupons_writes_one_coupon_created_per_code(tmp_path):
    output = tmp_path / "codes.csv"
    call_command(
        "generate_coupons", "--count", "25", "--length", "8", "--chunk-size", "10",
        "--output", str(output), "--no-progress",
    )  # fmt: skip
    events = Event.objects.filter(type="coupon.created")
    assert sorted(e.data["code"] for e in events) == sorted(
        Coupon.objects.values_list("code", flat=True)
    )
    assert len(events) == 25
    for event in events[:3]:
        assert event.data == COUPON(Coupon.objects.get(pk=event.data["id"]))


def test_a_cursor_is_opaque_and_a_changed_one_is_refused():
    token = EventCursor(12, 3).token()
    assert EventCursor.parse(token) == EventCursor(12, 3)
    from core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        EventCursor.parse(token[:-2] + "xx")
    with pytest.raises(ValueError, match="unknown event types"):
        events_after(None, types=["coupon.melted"], limit=1)


def _open_writer_in(dbname: str) -> psycopg.Connection[Any]:
    """A transaction that has taken its id and stays open, in database `dbname`."""
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"], user=settings["USER"], dbname=dbname
    )
    other.execute("SELECT pg_current_xact_id()")  # BEGIN (not autocommit) and take an id
    return other


@pytest.mark.postgres
def test_a_transaction_open_in_another_database_does_not_hold_the_log_back():
    other = _open_writer_in("postgres")
    try:
        _, start = events_after(None, limit=500)
        create_coupon(code="ELSEWHERE", init_count=1)
        events, _ = events_after(start, limit=10)
        assert [e.data["code"] for e in events] == ["ELSEWHERE"]
    finally:
        other.close()


@pytest.mark.postgres
def test_one_open_in_this_database_holds_it_back_and_a_lister_waits_for_it():
    _, start = events_after(None, limit=500)
    mine = _open_writer_in(connection.settings_dict["NAME"])
    try:
        create_coupon(code="HELD-BACK", init_count=1)
        # Begun after the open one: not shown while it runs, whatever the wait...
        assert events_after(start, limit=10, wait=0.2) == ([], start)
        # ...and shown as soon as it ends, to a lister that waits for it.
        threading.Timer(0.3, mine.close).start()
        events, _ = events_after(start, limit=10, wait=5)
        assert [e.data["code"] for e in events] == ["HELD-BACK"]
    finally:
        mine.close()
