"""Every finding code the product can raise has a Swedish label for the reviewer."""

from __future__ import annotations

import re
from pathlib import Path

from intake.scan import RESOLVE_CODES, VALIDATION_CODES
from review.finding_labels import FINDING_LABELS, finding_label

ROOT = Path(__file__).resolve().parents[2]
# A finding's code where it is made: Finding("x.y", ...), c.add("x.y", ...), code="x.y".
_MADE = re.compile(r'(?:Finding\(|c\.add\(|code=)\s*"([a-z_]+\.[a-z_.]+)"')


def _raised() -> set[str]:
    found: set[str] = set()
    for package in ("intake", "review", "workqueue"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(_MADE.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_code_raised_anywhere_has_a_label() -> None:
    raised = _raised()
    assert len(raised) > 40  # the pattern still finds the codes
    assert raised >= VALIDATION_CODES
    missing = sorted(c for c in raised if c not in FINDING_LABELS)
    assert not missing, f"finding codes without a Swedish label: {missing}"


def test_validation_codes_are_exactly_what_validate_raises() -> None:
    source = (ROOT / "intake" / "scan" / "validate.py").read_text(encoding="utf-8")
    assert set(re.findall(r'c\.add\("([a-z_.]+)"', source)) == VALIDATION_CODES
    source = (ROOT / "intake" / "scan" / "registered.py").read_text(encoding="utf-8")
    assert set(re.findall(r'Finding\(\s*"([a-z_.]+)"', source)) == RESOLVE_CODES


def test_labels_are_swedish_sentences_not_codes() -> None:
    for code, label in FINDING_LABELS.items():
        assert label[0].isupper() and code not in label, code
    assert finding_label("future.code") == "future.code"
