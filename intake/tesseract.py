"""The one place that runs Tesseract: an image in, recognised words with boxes out.

Tesseract runs as a child process (`tesseract stdin stdout ... hocr`): the
image goes in on stdin as binary PGM and hOCR, with a box and a confidence
for every character, comes back on stdout, so no
temporary files are written (pytesseract writes two per call) and encoding
costs ~2 ms instead of ~10 ms for PNG. Every call is single-threaded
(`OMP_THREAD_LIMIT=1` in the child's environment): on 2 cores Tesseract's
OpenMP threads fight each other, a full page took 9.0 s with them and 3.9 s
without (DESIGN.md), and the pipeline runs one Tesseract per core instead.

Starting a process and loading the language model costs ~0.13 s, which is
why the callers put everything they need read on one page into one image.
Language, page segmentation mode, resolution and any `-c` variable are
always passed explicitly, so a call does not depend on a config file.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import cv2

from intake.errors import IntakeError
from intake.model import Gray

TESSERACT = "tesseract"
LANGUAGE = "swe"
DEFAULT_TIMEOUT_S = 30.0
# A whole page with the default automatic segmentation; only the baseline uses it.
FULL_PAGE_TIMEOUT_S = 120.0
XHTML = "{http://www.w3.org/1999/xhtml}"
EXIT_SOFTWARE = 70  # sysexits EX_SOFTWARE: our OCR engine failed, not the sender's file


class TesseractError(IntakeError):
    """Tesseract is missing, crashed, timed out or answered something unreadable."""

    exit_code = EXIT_SOFTWARE


@dataclass(frozen=True, slots=True)
class OcrChar:
    """One recognised character; the box is in pixels of the image that was passed in."""

    text: str
    confidence: float  # 0..1
    left: int
    top: int
    right: int
    bottom: int

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


def _config_args(config: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in config.items():
        args += ["-c", f"{key}={value}"]
    return args


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
            chars = []
            for char in word.iter(f"{XHTML}span"):
                if _classes(char) != "ocrx_cinfo" or not (char.text or "").strip():
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


def recognise_words(
    image: Gray,
    *,
    psm: int,
    dpi: int,
    lang: str = LANGUAGE,
    config: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> list[OcrWord]:
    """Every word Tesseract finds in `image` (grayscale, 0 = black), in reading order.

    `dpi` is the image's real resolution: Tesseract's size limits (what is a
    speck, what is a letter) depend on it.
    """
    args = ["-l", lang, "--oem", "1", "--psm", str(psm), "--dpi", str(dpi)]
    # Character boxes let a caller put each character back in its comb cell.
    args += _config_args({"hocr_char_boxes": "1", **(config or {})})
    return parse_hocr(_run([*args, "hocr"], image, timeout))


def full_page_text(
    image: Gray, *, lang: str = LANGUAGE, timeout: float = FULL_PAGE_TIMEOUT_S
) -> str:
    """Plain `tesseract -l swe` on a whole page (automatic segmentation): the baseline."""
    return _run(["-l", lang, "--oem", "1", "--psm", "3"], image, timeout)
