"""The one place that runs Tesseract: an image in, recognised words with boxes out.

The pipeline's calls (`recognise_words`) go to libtesseract in this process
through tesserocr, with one engine per thread, language and segmentation
mode, loaded once and kept: starting the `tesseract` program and loading the
language model cost ~0.15 s of the ~0.4 s a page took, on every page.
The output is hOCR with a box and a confidence for every character, parsed
the same way whichever way Tesseract ran.

The baseline (`full_page_text`) is the `tesseract` program itself, as an
operator would run it, in a child process fed through stdin (no temporary
files).

Every run is single-threaded (`OMP_THREAD_LIMIT=1`, set for this process
before the library starts its OpenMP runtime, and in the child's
environment): on 2 cores Tesseract's OpenMP threads fight each other, a full
page took 9.0 s with them and 3.9 s without (DESIGN.md), and the pipeline
runs one Tesseract per core instead. Language, segmentation mode, resolution
and any variable are always passed explicitly, so no call depends on a
config file.
"""

from __future__ import annotations

import os
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("OMP_THREAD_LIMIT", "1")
import tesserocr  # after the thread limit, which the library reads when it loads

from intake.errors import IntakeError
from intake.scan.model import Gray

TESSERACT = "tesseract"
LANGUAGE = "swe"
# A whole page with the default automatic segmentation; only the baseline uses it.
FULL_PAGE_TIMEOUT_S = 120.0
XHTML = "{http://www.w3.org/1999/xhtml}"
# Where Debian's tesseract-ocr-swe puts the models; TESSDATA_PREFIX overrides.
TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata")


class TesseractError(IntakeError):
    """Tesseract is missing, crashed, timed out or answered something unreadable."""

    exit_code = os.EX_SOFTWARE


@dataclass(frozen=True, slots=True)
class OcrChar:
    """One recognised character; the box is in pixels of the image that was passed in."""

    text: str
    confidence: float  # 0..1
    left: int
    top: int
    right: int
    bottom: int
    # Tesseract's own alternatives for this character (lstm_choice_mode=2), likeliest
    # first, with their probabilities 0..1; empty when it was run without them.
    choices: tuple[tuple[str, float], ...] = ()

    @property
    def center_x(self) -> float:
        return (self.left + self.right) / 2


@dataclass(frozen=True, slots=True)
class OcrWord:
    """One recognised word with its characters; boxes in pixels of the image passed in."""

    text: str
    confidence: float  # 0..1, Tesseract's word confidence divided by 100
    left: int
    top: int
    right: int
    bottom: int
    line: int  # words on one text line share it (the line's index in the output)
    chars: tuple[OcrChar, ...]

    @property
    def center_y(self) -> float:
        return (self.top + self.bottom) / 2


def _encode(image: Gray) -> bytes:
    ok, buf = cv2.imencode(".pgm", image)
    if not ok:
        raise TesseractError(f"cannot encode a {image.shape} image for Tesseract")
    return bytes(buf)


def _run(args: list[str], image: Gray, timeout: float) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(
            [TESSERACT, "stdin", "stdout", *args],
            input=_encode(image),
            capture_output=True,
            env=env,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise TesseractError(
            f"{TESSERACT!r} is not installed (Debian: tesseract-ocr tesseract-ocr-swe)"
        ) from None
    except subprocess.TimeoutExpired:
        raise TesseractError(f"Tesseract ran over {timeout:.0f} s and was stopped") from None
    if done.returncode != 0:
        # Tesseract writes some usage errors to stdout, the rest to stderr.
        detail = (done.stderr + done.stdout).decode("utf-8", "replace").strip().splitlines()
        raise TesseractError(
            f"Tesseract exited with {done.returncode}: {detail[-1] if detail else 'no message'}"
        )
    return done.stdout.decode("utf-8", "replace")


def _title_fields(title: str) -> dict[str, list[str]]:
    """hOCR's title attribute, "bbox 1 2 3 4; x_wconf 96", as {"bbox": ["1", ...], ...}."""
    out: dict[str, list[str]] = {}
    for part in title.split(";"):
        name, *values = part.split()
        if name:
            out[name] = values
    return out


def _box(values: list[str] | None, what: str) -> tuple[int, int, int, int]:
    if values is None or len(values) != 4:
        raise TesseractError(f"Tesseract's hOCR has a {what} without a box")
    try:
        left, top, right, bottom = (int(v) for v in values)
    except ValueError:
        raise TesseractError(f"Tesseract's hOCR has a {what} with a bad box: {values}") from None
    return left, top, right, bottom


def _conf(values: list[str] | None) -> float:
    try:
        return min(max(float(values[0]) / 100.0, 0.0), 1.0) if values else 0.0
    except ValueError:
        raise TesseractError(f"Tesseract's hOCR has a bad confidence: {values}") from None


def _classes(element: ET.Element) -> str:
    return element.get("class", "")


def _choices(element: ET.Element) -> tuple[tuple[str, float], ...]:
    out = []
    for choice in element:
        text = (choice.text or "").strip()
        if text:
            out.append((text, _conf(_title_fields(choice.get("title", "")).get("x_confs"))))
    return tuple(sorted(out, key=lambda c: c[1], reverse=True))


def parse_hocr(hocr: str) -> list[OcrWord]:
    """The words, with their characters, of Tesseract's hOCR (made with hocr_char_boxes=1)."""
    try:
        root = ET.fromstring(hocr)
    except ET.ParseError as exc:
        raise TesseractError(f"Tesseract's hOCR output is not well-formed: {exc}") from None
    words = []
    lines = [e for e in root.iter(f"{XHTML}span") if _classes(e) == "ocr_line"]
    for index, line in enumerate(lines):
        for word in line.iter(f"{XHTML}span"):
            if _classes(word) != "ocrx_word":
                continue
            title = _title_fields(word.get("title", ""))
            chars: list[OcrChar] = []
            inside_choices: set[int] = set()
            for char in word.iter(f"{XHTML}span"):
                if _classes(char) != "ocrx_cinfo" or id(char) in inside_choices:
                    continue
                if char.get("id", "").startswith("lstm_choices"):
                    # The alternatives follow the character they belong to.
                    inside_choices.update(id(e) for e in char.iter())
                    if chars:
                        chars[-1] = replace(chars[-1], choices=_choices(char))
                    continue
                if not (char.text or "").strip():
                    continue
                ctitle = _title_fields(char.get("title", ""))
                chars.append(OcrChar(char.text.strip() if char.text else "",
                                     _conf(ctitle.get("x_conf")),
                                     *_box(ctitle.get("x_bboxes"), "character")))
            text = "".join(c.text for c in chars)
            if not text:
                continue
            words.append(OcrWord(text, _conf(title.get("x_wconf")),
                                 *_box(title.get("bbox"), "word"), line=index,
                                 chars=tuple(chars)))
    return words


def tessdata_dir(lang: str = LANGUAGE) -> str:
    """The folder holding `<lang>.traineddata`: TESSDATA_PREFIX, else Debian's."""
    candidates = [os.environ["TESSDATA_PREFIX"]] if os.environ.get("TESSDATA_PREFIX") else []
    candidates += TESSDATA_DIRS
    for folder in candidates:
        if (Path(folder) / f"{lang}.traineddata").is_file():
            return folder
    raise TesseractError(
        f"no {lang}.traineddata in {', '.join(candidates)} "
        "(Debian: apt-get install tesseract-ocr tesseract-ocr-swe)"
    )


_engines = threading.local()


def _engine(lang: str, psm: int) -> tesserocr.PyTessBaseAPI:
    cache: dict[tuple[str, int], tesserocr.PyTessBaseAPI] = _engines.__dict__.setdefault(
        "by_key", {}
    )
    api = cache.get((lang, psm))
    if api is None:
        if psm not in {int(m) for m in vars(tesserocr.PSM).values() if isinstance(m, int)}:
            raise TesseractError(f"Tesseract has no page segmentation mode {psm}")
        try:
            api = tesserocr.PyTessBaseAPI(
                path=tessdata_dir(lang), lang=lang, oem=tesserocr.OEM.LSTM_ONLY, psm=psm
            )
        except RuntimeError as exc:
            raise TesseractError(f"cannot start Tesseract for {lang!r}: {exc}") from None
        cache[(lang, psm)] = api
    return api


def recognise_words(
    image: Gray,
    *,
    psm: int,
    dpi: int,
    lang: str = LANGUAGE,
    config: Mapping[str, str] | None = None,
) -> list[OcrWord]:
    """Every word Tesseract finds in `image` (grayscale, 0 = black), in reading order.

    `dpi` is the image's real resolution: Tesseract's size limits (what is a
    speck, what is a letter) depend on it.
    """
    api = _engine(lang, psm)
    # Character boxes let a caller put each character back in its comb cell.
    for key, value in {"hocr_char_boxes": "1", **(config or {})}.items():
        if not api.SetVariable(key, value):
            raise TesseractError(f"Tesseract has no variable {key!r}")
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = pixels.shape
    api.SetImageBytes(pixels.tobytes(), width, height, 1, width)
    api.SetSourceResolution(dpi)
    fragment = api.GetHOCRText(0)
    api.Clear()
    if fragment is None:
        raise TesseractError("Tesseract gave no hOCR for the image")
    # The library returns the page's <div> alone: give it the document's namespace.
    return parse_hocr(f'<div xmlns="http://www.w3.org/1999/xhtml">{fragment}</div>')


def full_page_text(
    image: Gray, *, lang: str = LANGUAGE, timeout: float = FULL_PAGE_TIMEOUT_S
) -> str:
    """Plain `tesseract -l swe` on a whole page (automatic segmentation): the baseline."""
    return _run(["-l", lang, "--oem", "1", "--psm", "3"], image, timeout)
