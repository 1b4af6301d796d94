"""What a code is: its alphabet, and how a looked-up string names one."""

from __future__ import annotations

import re
import secrets

from coupons.domain.limits import CODE_ALPHABET, CODE_PATTERN, MAX_CODE_LENGTH

_CODE = re.compile(CODE_PATTERN)


def lookup_key(typed: str) -> str | None:
    """The form codes are compared in (upper case), or None when `typed` cannot name any
    code. ASCII only: str.upper() folds Unicode (`ß` -> `SS`, dotless i -> `I`), which would
    let a string outside the alphabet redeem a code."""
    if len(typed) > MAX_CODE_LENGTH or not typed.isascii() or not _CODE.fullmatch(typed):
        return None
    return typed.upper()


def random_code(prefix: str, length: int) -> str:
    """`prefix` plus `length` characters of CODE_ALPHABET from the OS's CSPRNG."""
    alphabet, size = CODE_ALPHABET, len(CODE_ALPHABET)
    limit = 256 - 256 % size  # reject the bytes that would bias the modulo
    chars: list[str] = []
    while len(chars) < length:
        chars.extend(alphabet[b % size] for b in secrets.token_bytes(length * 2) if b < limit)
    return prefix + "".join(chars[:length])
