"""manage.py import_coupons: a file of any size, chunked, all or none, memory flat."""

from __future__ import annotations

import tracemalloc
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from coupons.models import Coupon
from coupons.services import campaigns as campaign_service

pytestmark = pytest.mark.django_db(transaction=True)


def write_codes(path: Path, count: int, *, tail: str = "") -> Path:
    with path.open("w") as out:
        out.write("code,init_count,per_customer_limit\n")
        for n in range(count):
            out.write(f"IMP-{n:08d},2,\n")
        out.write(tail)
    return path


def test_a_file_is_imported_into_a_campaign_with_a_progress_bar(tmp_path):
    campaign = campaign_service.create_campaign(name="Printed", discount={"percent_off": 5})
    path = write_codes(tmp_path / "codes.csv", 5_000)
    out, err = StringIO(), StringIO()

    call_command(
        "import_coupons", str(path), "--campaign", str(campaign.pk), "--chunk-size", "700",
        stdout=out, stderr=err,
    )  # fmt: skip

    assert "imported 5000 coupons" in out.getvalue()
    assert Coupon.objects.filter(campaign=campaign, remaining_count=2).count() == 5_000


def test_one_bad_line_at_the_end_leaves_nothing_and_is_named(tmp_path):
    path = write_codes(tmp_path / "codes.csv", 3_000, tail="IMP-00000007,1,\nLAST,1,0\n")

    with pytest.raises(CommandError) as caught:
        call_command("import_coupons", str(path), "--no-progress", "--chunk-size", "500")

    message = str(caught.value)
    assert "line 3002.code: Repeated" in message and "line 3003.per_customer_limit" in message
    assert not Coupon.objects.exists()


def test_memory_stays_flat_as_the_file_grows(tmp_path):
    def peak(count: int) -> int:
        path = write_codes(tmp_path / f"{count}.csv", count)
        Coupon.objects.all().delete()
        tracemalloc.start()
        try:
            call_command("import_coupons", str(path), "--no-progress", "--chunk-size", "250")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(1_000), peak(10_000)

    # Ten times the rows; the peak is a chunk's, not the file's.
    assert large < small * 1.5, (small, large)


def test_a_missing_file_or_bad_chunk_size_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="no file"):
        call_command("import_coupons", str(tmp_path / "none.csv"))
    path = write_codes(tmp_path / "codes.csv", 1)
    with pytest.raises(CommandError, match="--chunk-size"):
        call_command("import_coupons", str(path), "--chunk-size", "0")
