"""`manage.py generate_coupons`: many codes in chunks, all or none, written to a CSV."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from coupons.domain.discounts import Discount
from coupons.models import Coupon

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_generator_creates_the_coupons_and_writes_their_codes(tmp_path: Path, capsys):
    output = tmp_path / "codes.csv"

    call_command(
        "generate_coupons",
        "--count", "5000", "--prefix", "SPRING-", "--length", "8", "--init-count", "2",
        "--expires-at", "2027-03-21T00:00:00Z", "--chunk-size", "700",
        "--output", str(output), "--no-progress",
    )  # fmt: skip

    with output.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["code"]
    codes = [row[0] for row in rows[1:]]
    assert len(codes) == len(set(codes)) == 5000
    assert all(re.fullmatch(r"SPRING-[A-HJKMNP-Z2-9]{8}", c) for c in codes)
    stored = Coupon.objects.filter(code__startswith="SPRING-")
    assert set(stored.values_list("code", flat=True)) == set(codes)
    assert set(stored.values_list("init_count", "remaining_count")) == {(2, 2)}
    assert {str(c.expires_at) for c in stored} == {"2027-03-21 00:00:00+00:00"}
    assert "created 5000 coupons" in capsys.readouterr().out


def test_the_progress_bar_is_drawn_on_stderr(tmp_path: Path, capsys):
    call_command(
        "generate_coupons", "--count", "300", "--prefix", "P-", "--length", "6",
        "--output", str(tmp_path / "codes.csv"),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert "300/300" in err and "code/s" in err


@pytest.mark.parametrize(
    "args",
    [
        ["--count", "0"],
        ["--length", "5"],
        ["--prefix", "-bad"],
        ["--init-count", "0"],
        ["--starts-at", "2027-01-02T00:00:00Z", "--expires-at", "2027-01-01T00:00:00Z"],
        ["--expires-at", "9899-12-31T23:59:59-23:59"],  # 9900 in UTC
        ["--starts-at", "1970-01-01T00:00:00+00:01"],  # 1969 in UTC
        ["--chunk-size", "9000"],
        ["--amount-off", "500"],  # no currency
        ["--percent-off", "12.345"],
        ["--percent-off", "ten"],
        ["--percent-off", "10", "--currency", "eur"],
        ["--amount-off", "500", "--currency", "EUR", "--max-amount-off", "100"],
        ["--metadata", "no-equals-sign"],
        ["--metadata", "k=" + "v" * 501],
    ],
)
def test_bad_arguments_create_nothing(tmp_path: Path, args):
    output = tmp_path / "codes.csv"
    base = {"--count": "10", "--length": "8", "--output": str(output)}
    merged = dict(base)
    merged.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError):
        call_command("generate_coupons", *[x for kv in merged.items() for x in kv])
    assert Coupon.objects.count() == 0
    assert not output.exists()


def test_a_failed_run_leaves_no_rows_and_no_csv(tmp_path: Path, monkeypatch):
    from coupons.db import raw

    output = tmp_path / "codes.csv"
    real = raw.insert_new_codes
    calls = 0

    def fail_on_third_chunk(codes, row):
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("the disk filled up")
        return real(codes, row)

    # Not a mock of the database: the real inserts run, and a failure is injected between
    # chunks to prove the first two chunks are rolled back and the CSV is not left behind.
    monkeypatch.setattr(raw, "insert_new_codes", fail_on_third_chunk)
    with pytest.raises(RuntimeError):
        call_command(
            "generate_coupons", "--count", "50", "--length", "8", "--chunk-size", "10",
            "--output", str(output), "--no-progress",
        )  # fmt: skip

    assert calls == 3
    assert Coupon.objects.count() == 0
    assert list(tmp_path.iterdir()) == []


def test_after_a_collision_codes_taken_in_another_letter_case_are_not_drawn_again(monkeypatch):
    """The retry keeps only free codes, comparing them upper-cased as the unique index
    does; with a lower-case prefix it once compared them as drawn and kept taken ones."""
    from coupons.db import raw
    from coupons.domain.limits import CODE_ALPHABET
    from coupons.services.batches import create_coupon_batch
    from coupons.services.coupons import create_coupon

    for char in CODE_ALPHABET[3:]:  # all but three codes of prefix "q", length 1, taken
        create_coupon(code=f"Q{char}", init_count=1)
    real = raw.insert_new_codes
    calls: list[tuple[int, int]] = []

    def counting(codes, row):
        inserted = real(codes, row)
        calls.append((len(codes), len(inserted)))
        return inserted

    monkeypatch.setattr(raw, "insert_new_codes", counting)
    made = create_coupon_batch(count=3, prefix="q", length=1, init_count=1)

    assert sorted(made) == sorted(f"q{c}" for c in CODE_ALPHABET[:3])
    # The first draw may collide; every retry offers only codes that are free.
    assert all(offered == inserted for offered, inserted in calls[1:])


def test_the_generator_gives_every_coupon_the_discount_and_metadata(tmp_path: Path):
    call_command(
        "generate_coupons", "--count", "20", "--prefix", "OFF-", "--length", "8",
        "--percent-off", "12.5", "--currency", "EUR", "--max-amount-off", "5000",
        "--min-order-amount", "2000", "--metadata", "run=spring", "--metadata", "by=ops",
        "--output", str(tmp_path / "codes.csv"), "--no-progress",
    )  # fmt: skip

    made = Coupon.objects.filter(code__startswith="OFF-")
    assert made.count() == 20
    assert {c.discount for c in made} == {
        Discount(
            percent_off=Decimal("12.5"), currency="EUR", max_amount_off=5000,
            min_order_amount=2000,
        )
    }  # fmt: skip
    assert {tuple(sorted(c.metadata.items())) for c in made} == {(("by", "ops"), ("run", "spring"))}


def test_the_generator_puts_codes_in_a_campaign(tmp_path: Path):
    from coupons.services.campaigns import create_campaign

    campaign = create_campaign(name="BF", discount={"percent_off": 20})
    call_command(
        "generate_coupons", "--count", "15", "--prefix", "BF-", "--length", "8",
        "--campaign", str(campaign.id), "--output", str(tmp_path / "codes.csv"),
        "--no-progress",
    )  # fmt: skip

    made = Coupon.objects.filter(code__startswith="BF-")
    assert made.count() == 15
    assert {(c.campaign_id, c.discount) for c in made} == {(campaign.id, None)}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--percent-off", "5"], "--campaign"),
        ([], "campaign_id"),
    ],
)
def test_the_generator_refuses_a_discount_or_an_unknown_campaign(tmp_path: Path, extra, message):
    import uuid

    with pytest.raises(CommandError, match=message):
        call_command(
            "generate_coupons", "--count", "5", "--length", "8",
            "--campaign", str(uuid.uuid4()), *extra,
            "--output", str(tmp_path / "codes.csv"), "--no-progress",
        )  # fmt: skip
    assert Coupon.objects.count() == 0
