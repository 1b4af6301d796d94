"""The README and docs/ send readers only to files a clone of this repository has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# [text](target) and bare `path.md` mentions; http(s) links and #anchors are not files.
LINK = re.compile(r"\]\(([^)#\s]+)[^)]*\)|`([^`\s]+\.md)`")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_document_names_is_in_the_repository(document: Path):
    for match in LINK.finditer(document.read_text()):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+://", target):
            continue
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{document.name} points outside: {target}"
        assert resolved.exists(), f"{document.name} names a missing file: {target}"
