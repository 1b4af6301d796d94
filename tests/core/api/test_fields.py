"""Input serializers share one bound set of fields per class (a CPU saving); each
validation must still see only its own input and report only its own errors."""

import pytest

from core.api.fields import validated
from core.errors import ValidationFailed
from coupons.api.serializers import CouponCreateInput, CouponPatchInput


def errors_of(serializer_class, data):
    with pytest.raises(ValidationFailed) as caught:
        validated(serializer_class, data)
    return caught.value.errors


def test_validations_one_after_another_do_not_leak_into_each_other():
    bad = errors_of(CouponCreateInput, {"code": "bad code!", "init_count": 0})
    good = validated(CouponCreateInput, {"code": "GOOD", "init_count": 3})
    bad_again = errors_of(CouponCreateInput, {"code": "OK", "init_count": "3"})

    assert set(bad) == {"code", "init_count"}
    assert good == {"code": "GOOD", "init_count": 3}
    assert set(bad_again) == {"init_count"}


def test_each_serializer_class_keeps_its_own_fields():
    create = CouponCreateInput()
    patch = CouponPatchInput()

    assert "code" in create.fields and "code" not in patch.fields
    assert create.fields is CouponCreateInput().fields  # built once, shared
    assert create.fields["init_count"].required and not patch.fields["init_count"].required
