"""Simulated scans of filled-in forms, with their ground truth: the scan simulator.

`generate_corpus(out_dir, count=N, seed=S)` picks value sets from the sample
registry, issues forms (QR signed with `samples.SAMPLE_QR_KEY`), fills them
in by hand, degrades them as scanners, faxes and phones do, and writes the
files with truth.json and issued.json beside them. `record_issued` loads
issued.json into a database, so that "an id never issued" and "a value
changed by hand" can be checked. The committed corpus is in `CORPUS_DIR`.
"""

from pathlib import Path

from samples.scans.corpus import (
    DEFAULT_SEED,
    ISSUED_AT,
    ISSUED_FILE,
    REFERENCE_DATE,
    TRUTH_FILE,
    CorpusSummary,
    generate_corpus,
)
from samples.scans.truth import load_issued, load_truth, record_issued, truth_problems

CORPUS_DIR = Path(__file__).parent / "corpus"

__all__ = [
    "CORPUS_DIR",
    "DEFAULT_SEED",
    "ISSUED_AT",
    "ISSUED_FILE",
    "REFERENCE_DATE",
    "TRUTH_FILE",
    "CorpusSummary",
    "generate_corpus",
    "load_issued",
    "load_truth",
    "record_issued",
    "truth_problems",
]
