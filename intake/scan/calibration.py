"""What a reading's confidence means: one "sure" threshold, made true per field type.

Every reader reports a confidence in 0..1, but their scales differ: Tesseract's
word confidences, the digit reader's posteriors, the e-mail matcher's
distances. The product has one rule for a person (`SURE`: below it a finding
asks the reviewer to look), and issue 11 asks that a value at or above it be
exact at least 99.5 % of the time, for every field type.

`fit` finds, per field type and way of reading (`reading_key`), the raw
confidence above which a corpus's readings met that target
(`scripts/calibrate_confidence.py` runs the reader over a generated corpus
and writes `models/calibration.json`). `Calibration` then maps each raw
confidence monotonically so that this raw value lands on `SURE`. The map is
only ever stricter than the readers' own scale: nothing is sure below its
raw `SURE`, and a kind of reading that never met the target is never sure
at all. Without the file every confidence stays as read
(`Calibration.identity`).

A plain threshold per type rather than isotonic regression: the product acts
on one threshold, and a few hundred readings per type pin one point far
better than a whole curve.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from forms import FieldType

SURE = 0.6  # at or above: shown as confirmed, no finding for its confidence (validate)
TARGET = 0.995  # share of sure values that must be exact
NEVER = 1.01  # a raw threshold no reading reaches: the type is never sure
CALIBRATION_PATH = Path(__file__).with_name("models") / "calibration.json"


def reading_key(ftype: FieldType, how: str) -> str:
    """The calibration's unit: a field type and how it was read ("print", "hand", "changed").

    A printed organisationsnummer read by Tesseract and one written by hand
    and read by the digit reader are the same type on different scales.
    """
    return f"{ftype.value}:{how}"


@dataclass(frozen=True)
class Calibration:
    """Per field type, the raw confidence that is mapped onto `SURE`."""

    sure_raw: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    source: str = ""  # what it was fitted on, for the record

    @classmethod
    def identity(cls) -> Calibration:
        return cls()

    def apply(self, key: str, raw: float) -> float:
        """`raw` on the product's scale: at or above `SURE` exactly when the type is sure."""
        raw = min(max(raw, 0.0), 1.0)
        t = self.sure_raw.get(key)
        if t is None or t <= SURE:
            return raw
        if raw >= t:
            return SURE + (1.0 - SURE) * (raw - t) / max(1.0 - t, 1e-9)
        return SURE * raw / t


def fit(samples: Iterable[tuple[str, float, bool]], target: float = TARGET
        ) -> dict[str, dict[str, float | int]]:
    """Per field type: the lowest raw threshold at which the readings above it met `target`.

    `samples` are (`reading_key`, raw confidence, exact). Returns, per type, the
    threshold (`sure_raw`, never below `SURE`; `NEVER` when no threshold meets
    the target) and the counts it rests on.
    """
    by_type: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for ftype, raw, exact in samples:
        by_type[ftype].append((raw, exact))
    out: dict[str, dict[str, float | int]] = {}
    for ftype, rows in sorted(by_type.items()):
        rows.sort(key=lambda r: -r[0])
        threshold, above, wrong = NEVER, 0, 0
        seen = wrong_seen = 0
        i = 0
        while i < len(rows):
            # Readings with the same confidence go in together: a threshold cannot split them.
            j = i
            while j < len(rows) and rows[j][0] == rows[i][0]:
                seen += 1
                wrong_seen += not rows[j][1]
                j += 1
            if rows[i][0] >= SURE and wrong_seen <= (1.0 - target) * seen:
                threshold, above, wrong = rows[i][0], seen, wrong_seen
            i = j
        out[ftype] = {"sure_raw": round(threshold, 4), "readings": len(rows),
                      "sure_readings": above, "sure_wrong": wrong}
    return out


def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    """The committed calibration, or the identity when there is none."""
    if not path.exists():
        return Calibration.identity()
    data = json.loads(path.read_text(encoding="utf-8"))
    types = data.get("types", {})
    return Calibration(MappingProxyType({k: float(v["sure_raw"]) for k, v in types.items()}),
                       str(data.get("source", "")))
