"""truth_problems on the new optional keys: hand changes, comb layouts, registered e-mails."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

import pytest

from samples.scans import CORPUS_DIR, load_issued, load_truth, truth_problems
from samples.scans.truth import DocumentTruth, Truth

TRUTH = load_truth(CORPUS_DIR)
ISSUED = load_issued(CORPUS_DIR)


def _edited(pick: Callable[[DocumentTruth], bool],
            edit: Callable[[DocumentTruth], None]) -> Truth:
    truth = copy.deepcopy(TRUTH)
    doc = next(d for f in truth["files"] for d in f["documents"] if pick(d))
    edit(doc)
    return truth


def _invalid_whiteout(doc: DocumentTruth) -> bool:
    return any(c.get("style") == "whiteout" and c.get("valid") is False
               for c in doc["hand_changed"])


def _first_change(doc: DocumentTruth) -> dict[str, Any]:
    return cast(dict[str, Any],
                next(c for c in doc["hand_changed"] if c.get("style") == "whiteout"))


def test_the_committed_truth_is_sound() -> None:
    assert truth_problems(TRUTH, ISSUED) == []


def test_without_the_old_optional_keys_a_truth_still_loads_and_checks() -> None:
    truth = copy.deepcopy(TRUTH)
    for f in truth["files"]:
        for doc in f["documents"]:
            doc.pop("hand_layout", None)
            doc.pop("email_registered", None)
            for c in doc["hand_changed"]:
                valid = c.get("valid", True)
                for key in ("style", "positions", "registered"):
                    cast(dict[str, Any], c).pop(key, None)
                if valid:
                    c.pop("valid", None)
    assert truth_problems(truth, ISSUED) == []


@pytest.mark.parametrize(("pick", "edit", "says"), [
    (_invalid_whiteout, lambda d: _first_change(d).update(valid=True), "valid=True"),
    (_invalid_whiteout, lambda d: [cast(dict[str, Any], c).pop("valid")
                                   for c in d["hand_changed"] if c.get("valid") is False],
     "not valid form values"),
    (lambda d: any(c.get("positions") for c in d["hand_changed"]),
     lambda d: _first_change(d).update(positions=[0, 3]), "positions"),
    (lambda d: any(c.get("style") for c in d["hand_changed"]),
     lambda d: _first_change(d).update(style="tipp-ex"), "style"),
    (lambda d: bool(d.get("hand_layout")),
     lambda d: d["hand_layout"].popitem(), "hand_layout names"),
    (lambda d: bool(d.get("hand_layout")),
     lambda d: d["hand_layout"].update(dict.fromkeys(d["hand_layout"], "diagonal")),
     "hand_layout values"),
    (lambda d: bool(d.get("email_registered")),
     lambda d: d["email_registered"].update(client_name=True), "email_registered"),
])
def test_each_inconsistency_is_named(pick: Callable[[DocumentTruth], bool],
                                     edit: Callable[[DocumentTruth], None], says: str) -> None:
    problems = truth_problems(_edited(pick, edit), ISSUED)
    assert problems and any(says in p for p in problems), problems
