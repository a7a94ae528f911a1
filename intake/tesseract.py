"""The one place that runs Tesseract: an image in, recognised words with boxes out.

Tesseract runs as a child process (`tesseract stdin stdout ... tsv`): the
image goes in on stdin as binary PGM and the TSV comes back on stdout, so no
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
EXIT_SOFTWARE = 70  # sysexits EX_SOFTWARE: our OCR engine failed, not the sender's file


class TesseractError(IntakeError):
    """Tesseract is missing, crashed, timed out or answered something unreadable."""

    exit_code = EXIT_SOFTWARE


@dataclass(frozen=True, slots=True)
class OcrWord:
    """One recognised word; the box is in pixels of the image that was passed in."""

    text: str
    confidence: float  # 0..1, Tesseract's word confidence divided by 100
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]  # (block, paragraph, line): words on one text line share it

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height

    @property
    def center_y(self) -> float:
        return self.top + self.height / 2


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
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise TesseractError(
            f"Tesseract exited with {done.returncode}: {detail[-1] if detail else 'no message'}"
        )
    return done.stdout.decode("utf-8", "replace")


def _config_args(config: Mapping[str, str]) -> list[str]:
    args: list[str] = []
    for key, value in config.items():
        args += ["-c", f"{key}={value}"]
    return args


def parse_tsv(tsv: str) -> list[OcrWord]:
    """The words of Tesseract's TSV output (level 5 rows with text)."""
    lines = tsv.splitlines()
    if not lines or not lines[0].startswith("level\t"):
        raise TesseractError("Tesseract's TSV output has no header")
    words = []
    for row in lines[1:]:
        cols = row.split("\t")
        # A word's text may itself hold no tab, so a row has exactly 12 columns.
        if len(cols) != 12 or cols[0] != "5" or not cols[11].strip():
            continue
        try:
            block, par, line = int(cols[2]), int(cols[3]), int(cols[4])
            left, top, width, height = (int(c) for c in cols[6:10])
            conf = float(cols[10])
        except ValueError:
            raise TesseractError(f"unreadable TSV row from Tesseract: {row!r}") from None
        words.append(OcrWord(
            text=cols[11].strip(),
            confidence=min(max(conf / 100.0, 0.0), 1.0),
            left=left, top=top, width=width, height=height,
            line=(block, par, line),
        ))
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
    args += _config_args(config or {})
    return parse_tsv(_run([*args, "tsv"], image, timeout))


def full_page_text(
    image: Gray, *, lang: str = LANGUAGE, timeout: float = FULL_PAGE_TIMEOUT_S
) -> str:
    """Plain `tesseract -l swe` on a whole page (automatic segmentation): the baseline."""
    return _run(["-l", lang, "--oem", "1", "--psm", "3"], image, timeout)
