"""Fit the confidence calibration on a generated corpus: intake/scan/models/calibration.json.

One command, from the repository root:

    .venv/bin/python scripts/calibrate_confidence.py

It generates a simulated corpus with seeds other than the committed corpus's
(`kopplingar samples scans`: default seed 20261203, 1000 forms, into
build/calibration/corpus-SEED-COUNT, reused when it is already there with the same
seed and count), reads every file exactly as `kopplingar bench intake` does
(`read_file` with an `IntakeContext`, the sample registry in a temporary SQLite
database, one core) with the identity calibration, and compares each scored
value with truth.json as the bench does (the filled fields and signing dates;
here also the numbers changed by hand, against what the paper now says). Each
value read as non-empty gives one sample (`reading_key` of its field type and
`FieldReading.read_by`, its confidence as read, exact or not); `calibration.fit` turns them into one
threshold per key, written with its counts and what it was fitted on. Values read
as empty are left out (counted as `empty_left_out`): validation names every one
(`field.missing`, `date.missing`) whatever its confidence. The readings are saved in
build/calibration/readings-SEED-COUNT.json; `--reuse-readings` refits from them alone.

Seeds and size: `--seed` (repeatable) and `--count`. Reading is deterministic
given the corpus, so the same seeds, count and code give the same file. Measured
on 2 shared cores: generating 1000 forms 300 s (two processes), reading them
about 400 s (one core); with the corpus already there only the reading is redone,
which is what to rerun after a reader changes. Then check with
`kopplingar bench intake --corpus samples/scans/corpus --no-baseline`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from forms import FormKind, form_spec  # noqa: E402
from intake.scan import Calibration  # noqa: E402
from intake.scan.calibration import CALIBRATION_PATH, SURE, TARGET, fit, reading_key  # noqa: E402
from kopplingar.benchmarks.intake import document_for, read_corpus, scored_values  # noqa: E402
from samples.scans import DEFAULT_SEED, generate_corpus  # noqa: E402

DEFAULT_SEEDS = (20261203,)
DEFAULT_COUNT = 1000
WORK = ROOT / "build" / "calibration"

Sample = tuple[str, float, bool]


def corpus_for(seed: int, count: int, jobs: int) -> Path:
    """The corpus of (seed, count) under build/calibration, generated unless already there."""
    if seed == DEFAULT_SEED:
        raise SystemExit(f"seed {seed} is the committed corpus's: calibrate on another")
    out = WORK / f"corpus-{seed}-{count}"
    truth = out / "truth.json"
    if truth.exists():
        head = json.loads(truth.read_text(encoding="utf-8"))
        if head.get("seed") == seed and head.get("count") == count:
            print(f"corpus {out}: already there", flush=True)
            return out
    summary = generate_corpus(out, count=count, seed=seed, jobs=jobs)
    print(f"corpus {summary.line()}", flush=True)
    return out


def samples_of(corpus: Path) -> list[dict[str, Any]]:
    """Every value the bench scores, and the changes: its key, confidence as read, exact."""
    read = read_corpus(corpus, Calibration.identity())
    out: list[dict[str, Any]] = []
    for entry in read.files:
        documents = read.documents[entry["file"]]
        for truth in entry["documents"]:
            doc = document_for(truth, documents)
            spec = form_spec(FormKind(truth["kind"]))
            for name, value, reading in scored_values(truth, doc, changed=True):
                if reading is None or not reading.read_by:
                    continue  # nothing was read: no confidence to calibrate
                key = reading_key(spec.field(name).type, reading.read_by)
                out.append({"key": key, "confidence": reading.confidence,
                            "exact": reading.value == value, "file": entry["file"],
                            "field": name, "truth": value, "read": reading.value})
    return out


def table(samples: list[Sample], fitted: dict[str, dict[str, Any]]) -> str:
    """Per key: readings, exact, and above the raw SURE and above the fitted threshold."""
    by_key: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    for key, raw, exact in samples:
        by_key[key].append((raw, exact))
    lines = [f"{'key':22}{'readings':>9}{'exact':>8}{'>=0.6 raw':>16}{'sure_raw':>10}"
             f"{'sure (fitted)':>16}"]
    for key in sorted(by_key):
        rows = by_key[key]
        raw_sure = [e for c, e in rows if c >= SURE]
        t = float(fitted[key]["sure_raw"])
        sure = [e for c, e in rows if c >= t]
        lines.append(
            f"{key:22}{len(rows):9d}{sum(e for _, e in rows):8d}"
            f"{f'{sum(raw_sure)}/{len(raw_sure)}':>16}{t:10.4f}{f'{sum(sure)}/{len(sure)}':>16}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append",
                        help=f"corpus seed, repeatable (default {DEFAULT_SEEDS[0]})")
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT, help="forms per seed")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="processes generating a corpus (reading is on one core)")
    parser.add_argument("--out", type=Path, default=CALIBRATION_PATH)
    parser.add_argument("--reuse-readings", action="store_true",
                        help="fit on the readings saved by the last run (no reading)")
    args = parser.parse_args()
    seeds = tuple(args.seed or DEFAULT_SEEDS)
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    for seed in seeds:
        saved = WORK / f"readings-{seed}-{args.count}.json"
        if args.reuse_readings and saved.exists():
            records += json.loads(saved.read_text(encoding="utf-8"))
            continue
        corpus = corpus_for(seed, args.count, args.jobs)
        reading = time.perf_counter()
        got = samples_of(corpus)
        saved.write_text(json.dumps(got, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"read {corpus}: {len(got)} values in {time.perf_counter() - reading:.0f} s",
              flush=True)
        records += got
    # A value read as empty is no value: validation names every empty required field
    # (field.missing) and a signed party's empty date (date.missing) whatever the
    # confidence, so it is never taken silently; the hand-comb reader gives "nothing
    # there" a confidence of 1.0, which would otherwise sink its whole kind.
    samples: list[Sample] = [(r["key"], r["confidence"], r["exact"]) for r in records
                             if r["read"].strip()]
    empty: dict[str, int] = defaultdict(int)
    for r in records:
        empty[r["key"]] += not r["read"].strip()
    fitted = fit(samples, TARGET)
    seconds = round(time.perf_counter() - started)
    source = (f"seeds {', '.join(map(str, seeds))} x {args.count} forms, "
              f"{len(samples)} values, {dt.date.today().isoformat()}")
    document = {
        "target": TARGET,
        "sure": SURE,
        "source": source,
        "fitted_on": {"seeds": list(seeds), "forms_per_seed": args.count,
                      "values": len(samples), "date": dt.date.today().isoformat(),
                      "seconds": seconds, "refit_from_saved_readings": args.reuse_readings,
                      "command": "python scripts/calibrate_confidence.py"
                                 + "".join(f" --seed {s}" for s in seeds)
                                 + f" --count {args.count}"},
        "types": {k: {**v, "empty_left_out": empty[k]} for k, v in fitted.items()},
    }
    args.out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(table(samples, fitted))
    print(f"wrote {args.out} in {seconds} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
