"""The receiver's signature check exactly as README.md prints it: the tests run that code."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verify_signature() -> Callable[..., bool]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (code,) = [block for block in blocks if "def verify_signature" in block]
    namespace: dict[str, object] = {}
    exec(code, namespace)
    verify = namespace["verify_signature"]
    assert callable(verify)
    return verify
