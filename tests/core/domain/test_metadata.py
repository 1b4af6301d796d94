"""Metadata bounds and PATCH merges (no database)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.metadata import (
    MAX_KEY_LENGTH,
    MAX_KEYS,
    MAX_VALUE_LENGTH,
    MetadataTooLarge,
    merge_metadata,
    metadata_problems,
)

TEXT = "Must be text without NUL characters or lone surrogates."


def many(count, value="v"):
    return {f"k{i}": value for i in range(count)}


@pytest.mark.parametrize(
    "value",
    [
        {},
        {"order_ref": "A-1"},
        {"k" * MAX_KEY_LENGTH: "v" * MAX_VALUE_LENGTH},
        {"empty": ""},
        {"ünïcode ✓": "日本語"},
        {"dotted.key": "fine"},
        many(MAX_KEYS),
    ],
)
def test_metadata_within_the_bounds_is_accepted(value):
    assert metadata_problems(value) == {}


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        (None, {"metadata": ["Must be a JSON object."]}),
        ([], {"metadata": ["Must be a JSON object."]}),
        ("a=b", {"metadata": ["Must be a JSON object."]}),
        (many(MAX_KEYS + 1), {"metadata": ["At most 50 keys."]}),
        ({"n": 1}, {"metadata.n": ["Must be a string of at most 500 characters."]}),
        ({"n": None}, {"metadata.n": ["Must be a string of at most 500 characters."]}),
        ({"n": True}, {"metadata.n": ["Must be a string of at most 500 characters."]}),
        ({"n": {"a": "b"}}, {"metadata.n": ["Must be a string of at most 500 characters."]}),
        ({"n": "v" * 501}, {"metadata.n": ["Must be a string of at most 500 characters."]}),
        # PostgreSQL's jsonb refuses \u0000; a lone surrogate has no UTF-8: both were 500s.
        ({"n": "a\x00b"}, {"metadata.n": [TEXT]}),
        ({"n": "\ud800"}, {"metadata.n": [TEXT]}),
        ({"": "v"}, {"metadata": ["Key '': keys are 1 to 40 characters."]}),
        ({"k" * 41: "v"}, {"metadata": [f"Key '{'k' * 40}…': keys are 1 to 40 characters."]}),
        ({"a\x00": "v"}, {"metadata": ["Key 'a\\x00': keys are 1 to 40 characters."]}),
    ],
)  # fmt: skip
def test_metadata_out_of_bounds_is_refused_naming_the_key(value, errors):
    assert metadata_problems(value) == errors


def test_every_bad_value_is_reported_at_once():
    assert set(metadata_problems({"a": 1, "b": "ok", "c": None})) == {"metadata.a", "metadata.c"}


def test_the_error_keys_follow_the_field_they_are_for():
    assert metadata_problems({"a": 1}, field="discount.metadata") == {
        "discount.metadata.a": ["Must be a string of at most 500 characters."]
    }


def test_a_patch_may_remove_keys_with_null():
    assert metadata_problems({"a": None, "b": "x"}, for_patch=True) == {}
    assert metadata_problems({"a": 1}, for_patch=True) == {
        "metadata.a": ["Must be a string of at most 500 characters, or null to remove the key."]
    }


def test_a_patch_sets_at_most_50_keys_and_names_at_most_100():
    assert metadata_problems(many(MAX_KEYS) | many(MAX_KEYS, None) | {}, for_patch=True) == {}
    replace_all = {f"old{i}": None for i in range(MAX_KEYS)} | many(MAX_KEYS)
    assert metadata_problems(replace_all, for_patch=True) == {}

    assert metadata_problems(many(MAX_KEYS + 1), for_patch=True) == {
        "metadata": ["At most 50 keys."]
    }
    too_long = replace_all | {"extra": None}
    assert metadata_problems(too_long, for_patch=True) == {
        "metadata": ["A patch names at most 100 keys."]
    }


def test_a_merge_sets_replaces_and_removes_and_keeps_the_rest():
    current = {"keep": "1", "change": "2", "drop": "3"}
    merged = merge_metadata(current, {"change": "two", "drop": None, "new": "4", "absent": None})

    assert merged == {"keep": "1", "change": "two", "new": "4"}
    assert current == {"keep": "1", "change": "2", "drop": "3"}  # not changed in place


def test_a_merge_may_fill_up_to_50_keys_removing_some_in_the_same_patch():
    current = many(MAX_KEYS)
    merged = merge_metadata(current, {"k0": None, "new": "v"})
    assert len(merged) == MAX_KEYS and "new" in merged and "k0" not in merged


def test_a_merge_past_50_keys_is_refused_whole():
    current = many(MAX_KEYS)
    with pytest.raises(MetadataTooLarge) as caught:
        merge_metadata(current, {"one_more": "v"})
    assert caught.value.errors == {
        "metadata": [
            "At most 50 keys. This patch would leave 51: remove some with null in the same patch."
        ]
    }
    assert current == many(MAX_KEYS)


KEYS = st.text(min_size=1, max_size=4, alphabet="abcdef")
METADATA = st.dictionaries(KEYS, st.text(alphabet="xyz é", max_size=3), max_size=MAX_KEYS)
PATCHES = st.dictionaries(KEYS, st.none() | st.text(alphabet="xyz é", max_size=3), max_size=10)


@given(current=METADATA, patch=PATCHES)
def test_a_merge_is_the_patch_applied_or_a_refusal_past_50_keys(current, patch):
    expected = {k: v for k, v in current.items() if k not in patch}
    expected |= {k: v for k, v in patch.items() if v is not None}

    if len(expected) > MAX_KEYS:
        with pytest.raises(MetadataTooLarge):
            merge_metadata(current, patch)
    else:
        merged = merge_metadata(current, patch)
        assert merged == expected
        assert metadata_problems(merged) == {}
