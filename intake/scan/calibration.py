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
(`Calibration.identity`, with a warning in the log); a file that is there
but does not parse is a broken installation (`CalibrationError`, exit 70),
never silently the identity.

The stages never load it: the composition root does (`load_calibration`)
and hands it over in `IntakeContext.calibration`.

A plain threshold per type rather than isotonic regression: the product acts
on one threshold, and a few hundred readings per type pin one point far
better than a whole curve.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from forms import SURE_CONFIDENCE, FieldType
from intake.errors import IntakeError

SURE = SURE_CONFIDENCE  # at or above: shown as confirmed, no finding for its confidence
TARGET = 0.995  # share of sure values that must be exact
NEVER = 1.01  # a raw threshold no reading reaches: the type is never sure
CALIBRATION_PATH = Path(__file__).with_name("models") / "calibration.json"
# The ways of reading (`FieldReading.read_by`).
HOWS = ("print", "hand", "changed", "pdf-field", "pdf-text", "pdf-mark",
        "pdf-text-box")

log = logging.getLogger(__name__)


class CalibrationError(IntakeError):
    """The calibration file is there but unreadable or not a calibration.

    The installation is broken, not a customer's scan: a software error, as
    for the digit model, rather than reading on with confidences nobody fitted.
    """

    exit_code = os.EX_SOFTWARE


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

    def __reduce__(self) -> tuple[Any, ...]:
        # The context goes to spawned reader processes, and a mappingproxy does not pickle.
        return (_calibration, (dict(self.sure_raw), self.source))

    def apply(self, key: str, raw: float) -> float:
        """`raw` on the product's scale: at or above `SURE` exactly when the type is sure."""
        raw = min(max(raw, 0.0), 1.0)
        t = self.sure_raw.get(key)
        if t is None or t <= SURE:
            return raw
        if raw >= t:
            return SURE + (1.0 - SURE) * (raw - t) / max(1.0 - t, 1e-9)
        return SURE * raw / t


def _calibration(sure_raw: dict[str, float], source: str) -> Calibration:
    return Calibration(MappingProxyType(sure_raw), source)


def fit(samples: Iterable[tuple[str, float, bool]], target: float = TARGET
        ) -> dict[str, dict[str, float | int]]:
    """Per field type: the lowest raw threshold at which the readings above it met `target`.

    `samples` are (`reading_key`, raw confidence, exact). Returns, per type, the
    threshold (`sure_raw`, never below `SURE`; `NEVER` when no threshold meets
    the target; `SURE` itself when every reading at or above `SURE` is in) and
    the counts it rests on.
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
        if threshold < NEVER and above == sum(raw >= SURE for raw, _ in rows):
            # Everything the readers call sure already meets the target: keep their scale
            # rather than pin the threshold on the lowest value the corpus happened to hold.
            threshold = SURE
        out[ftype] = {"sure_raw": round(threshold, 4), "readings": len(rows),
                      "sure_readings": above, "sure_wrong": wrong}
    return out


def load_calibration(path: Path = CALIBRATION_PATH) -> Calibration:
    """The committed calibration; the identity (and a warning) when there is none.

    Raises `CalibrationError` for a file that is there but is not a calibration:
    not JSON, no "types", a key that is no `reading_key`, a threshold outside 0..`NEVER`.
    """
    if not path.exists():
        log.warning("no confidence calibration at %s: confidences stay as the readers give "
                    "them", path, extra={"calibration": str(path)})
        return Calibration.identity()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CalibrationError(f"cannot read the confidence calibration {path}: {exc}") from exc
    types = data.get("types") if isinstance(data, dict) else None
    if not isinstance(types, dict):
        raise CalibrationError(f"the confidence calibration {path} has no \"types\" table")
    known = {reading_key(t, how) for t in FieldType for how in HOWS}
    sure_raw: dict[str, float] = {}
    for key, entry in types.items():
        value = entry.get("sure_raw") if isinstance(entry, dict) else None
        if key not in known or isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value) or not 0.0 <= value <= NEVER:
            raise CalibrationError(
                f"the confidence calibration {path} has a bad entry {key!r}: {entry!r} "
                f"(want a field type:{'|'.join(HOWS)} with a sure_raw in 0..{NEVER})")
        sure_raw[key] = float(value)
    return Calibration(MappingProxyType(sure_raw), str(data.get("source", "")))
