"""What OCR text becomes, field by field: clean-up, confidence and the check digit.

`read.py` cuts the fields out and runs Tesseract; this module turns the
words Tesseract gave one field into that field's value:

* a comb field gets exactly one character per inked cell, from the
  characters' boxes;
* letter/digit look-alikes are mapped in numeric fields only;
* an organisationsnummer or subscription number that fails its check digit
  as first read may pass with another digit only where Tesseract itself
  proposed it: in a cell it was unsure of (or saw two characters on), one
  of that cell's own alternatives (lstm choices). A confidently read digit
  is never changed, and neither the registry nor the issued form ever
  supplies a digit (they may only suggest, in a finding). When nothing
  passes, what was read stands, with its doubtful cells marked;
* an e-mail address gets back the "@" the Swedish model cannot produce;
* everything ends in `forms.clean_field` for the canonical text, and the
  confidence (Tesseract's, lowered for every doubt) is 0..1.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

from forms import FieldSpec, FieldType, InvalidValue, clean_field, parse_email
from intake.scan.tesseract import OcrChar, OcrWord

# -- clean-up -------------------------------------------------------------------------------
# Only in numeric fields: what Tesseract makes of a digit when it takes it for a letter.
DIGIT_LOOKALIKES = str.maketrans({
    "O": "0", "o": "0", "D": "0", "Q": "0",
    "I": "1", "l": "1", "|": "1", "i": "1", "!": "1",
    "Z": "2", "z": "2",
    "S": "5", "s": "5",
    "G": "6", "b": "6",
    "B": "8",
    "g": "9", "q": "9",
})
# The Swedish model has no "@": it reads the one in an e-mail address as one of these,
# the first group when the print is clean.
AT_LOOKALIKES = "Q©®"
AT_FALLBACKS = "geaGO0"
LOOKALIKE_PENALTY = 0.9  # per character the clean-up had to change
INVALID_PENALTY = 0.3  # a value that fails its validator is not one to trust
COUNT_PENALTY = 0.5  # the number of characters read differs from the cells with ink
CHECK_DIGIT_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)
REPAIRED_CONFIDENCE = 0.5  # a number the check digit decided is right more often than not
# A digit Tesseract was less sure of than this may be changed to one of its own
# alternatives to pass the check digit; a surer one never (measured: a misread dotted
# zero 0.93-0.96, correctly read printed digits 0.98-0.99).
DOUBTFUL = 0.97
MIN_ALTERNATIVE = 0.01  # an alternative Tesseract listed at 0 % still counts, barely
RIVAL_FACTOR = 4.0  # the likeliest passing string must be this much likelier than the next
MAX_AMBIGUOUS_CELLS = 4  # doubtful cells tried against the check digit
MAX_CANDIDATES = 3  # digits tried per doubtful cell (at most 3^4 tries)
AMBIGUOUS_PENALTY = 0.5  # an "@" put back where another place was as plausible
AT_TALLER = 1.15  # an "@" glyph is clearly taller than the letters it is mistaken for
UNREADABLE_CONFIDENCE = 0.2  # ink in a date's cells that did not read as a date

NUMERIC_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION, FieldType.DATE)
Slots = tuple[tuple[float, float], ...]


def _word_confidence(words: list[OcrWord]) -> float:
    """Tesseract's word confidences, weighted by each word's length."""
    total = sum(len(w.text) for w in words)
    if not total:
        return 0.0
    return sum(w.confidence * len(w.text) for w in words) / total


def _numeric(raw: str) -> tuple[str, int]:
    """Digits only, with look-alike letters mapped; how many characters were mapped."""
    mapped = raw.translate(DIGIT_LOOKALIKES)
    changed = sum(1 for a, b in zip(raw, mapped, strict=True) if a != b)
    return "".join(ch for ch in mapped if ch.isdigit()), changed


def _plausible_email(text: str) -> bool:
    local = text.partition("@")[0]
    if local.startswith(".") or local.endswith(".") or ".." in text:
        return False
    try:
        parse_email(text)
    except InvalidValue:
        return False
    return True


def _email(text: str, heights: list[int]) -> tuple[str, int, bool]:
    """An e-mail address without spaces, with its "@" put back when OCR lost it.

    Returns (text, characters changed, whether the choice was a guess). The
    Swedish model has no "@"; it reads one as a look-alike letter, or as two
    ("ge"). Of the places where an "@" makes a plausible address, the tallest
    glyph wins (an "@" reaches from the capitals' height to below the line,
    an "e" or an "a" does neither), then the pair over a single letter.
    `heights` has one entry per character of the compacted text.
    """
    text = "".join(text.split())
    if "@" in text:
        return text, 0, False
    if len(heights) != len(text):
        heights = [0] * len(text)
    lookalikes = AT_LOOKALIKES + AT_FALLBACKS
    spans = [(i, i + n) for n in (1, 2) for i in range(len(text) - n + 1)
             if all(ch in lookalikes for ch in text[i:i + n])]
    ranked = sorted(
        ((max(heights[i:j]), text[i] in AT_LOOKALIKES, j - i, i, j) for i, j in spans
         if _plausible_email(text[:i] + "@" + text[j:])),
        reverse=True,
    )
    if not ranked:
        return text, 0, False
    height, sure, _n, i, j = ranked[0]
    # Another place as tall and as likely a look-alike (other than a part of the chosen
    # pair) makes the choice a guess.
    rivals = [r for r in ranked[1:] if not (i <= r[3] and r[4] <= j) and r[1] >= sure]
    guess = bool(rivals) and height < AT_TALLER * rivals[0][0]
    return text[:i] + "@" + text[j:], j - i, guess


def _covered(char: OcrChar, x0: float, x1: float) -> float:
    """How much of a cell's glyph (x0..x1) the character's box covers, 0..1."""
    return max(0.0, min(char.right, x1) - max(char.left, x0)) / max(x1 - x0, 1.0)


def _comb_cells(field: FieldSpec, words: list[OcrWord], slots: Slots
                ) -> tuple[list[list[OcrChar]], bool]:
    """The characters read on each inked cell, likeliest first, and whether the count was off.

    Each recognised character goes to the cell whose glyph its centre lies
    on. A cell given two (Tesseract reads a blurred dotted zero as "09")
    ranks a digit first in a numeric field, then the character covering
    more of the glyph, then the surer. A character on no cell is dropped.
    """
    numeric = field.type in NUMERIC_TYPES
    chars = [c for w in words for c in w.chars]
    cells: list[list[OcrChar]] = []
    for x0, x1 in slots:
        inside = [c for c in chars if x0 <= c.center_x < x1]
        inside.sort(key=lambda c: (numeric and c.text.translate(DIGIT_LOOKALIKES).isdigit(),
                                   _covered(c, x0, x1), c.confidence), reverse=True)
        cells.append(inside)
    off = any(len(cell) != 1 for cell in cells) or len(chars) != len(slots)
    return cells, off


def _cell_candidates(cell: list[OcrChar]) -> list[tuple[str, float]]:
    """The digits Tesseract itself proposed for one cell, in its order, with their figures.

    The characters it put on the cell (two on a blurred dotted zero, "09"),
    then their own alternatives (lstm choices), look-alike letters mapped to
    digits; a digit proposed twice keeps its likelier figure. The first is
    the cell's first reading when that is a digit.
    """
    best: dict[str, float] = {}
    # The characters themselves first, then their alternatives, likeliest first.
    proposals = [(c.text, c.confidence) for c in cell]
    proposals += sorted((choice for c in cell for choice in c.choices),
                        key=lambda choice: choice[1], reverse=True)
    for text, probability in proposals:
        digit = text.translate(DIGIT_LOOKALIKES)
        if len(digit) == 1 and digit.isdigit():
            best[digit] = max(best.get(digit, 0.0), probability)
    return list(best.items())


def _doubtful(cell: list[OcrChar]) -> bool:
    """A cell whose reading the check digit may change: Tesseract was unsure of it,
    or saw two characters on it."""
    return len(cell) > 1 or cell[0].confidence < DOUBTFUL


def _comb_choice(field: FieldSpec, cells: list[list[OcrChar]]
                 ) -> tuple[str, float, tuple[int, ...], bool]:
    """The comb's text from its cells' own candidates: (text, confidence, doubtful, changed).

    The first reading of every cell, unless it fails the field's check digit
    (organisationsnummer, subscription number): then the likeliest string
    that passes, changing only doubtful cells (`_doubtful`), each to a digit
    Tesseract proposed for that very cell. A confidently read digit is never
    changed, and no number is made up from what nobody read: when nothing
    passes, or two strings pass about as likely, the first reading stands.
    `doubtful` are the 0-based positions of the doubtful cells among the
    inked ones, for the reviewer; `changed` says a cell was changed.
    """
    filled = [cell for cell in cells if cell]
    first = "".join(cell[0].text for cell in filled)
    confidence = sum(cell[0].confidence for cell in filled) / len(filled) if filled else 0.0
    doubtful = tuple(i for i, cell in enumerate(filled) if _doubtful(cell))
    if field.type not in CHECK_DIGIT_TYPES or _passes(field, first):
        return first, confidence, doubtful if not _passes(field, first) else (), False
    # The least sure cells, each with its likeliest few candidates, bound the search.
    varied = sorted(sorted(doubtful, key=lambda i: filled[i][0].confidence)[:MAX_AMBIGUOUS_CELLS])
    options = [_cell_candidates(filled[i])[:MAX_CANDIDATES] for i in varied]
    scored: list[tuple[float, str]] = []
    for combo in itertools.product(*options):
        picks = [cell[0].text for cell in filled]
        score = 1.0
        for i, (digit, probability) in zip(varied, combo, strict=True):
            if digit != picks[i].translate(DIGIT_LOOKALIKES):
                # How much less likely Tesseract found this digit than its first reading.
                score *= max(probability, MIN_ALTERNATIVE) / max(filled[i][0].confidence,
                                                                  MIN_ALTERNATIVE)
            picks[i] = digit
        text = "".join(picks)
        if text != first and _passes(field, text):
            scored.append((score, text))
    scored.sort(reverse=True)
    if not scored or (len(scored) > 1 and scored[1][0] * RIVAL_FACTOR > scored[0][0]):
        return first, confidence, doubtful, False
    return scored[0][1], confidence, doubtful, True


def _passes(field: FieldSpec, text: str) -> bool:
    digits, _changed = _numeric(text)
    if len(digits) != len(text):
        return False
    try:
        clean_field(field, digits)
    except InvalidValue:
        return False
    return True


class TypedReading(NamedTuple):
    """A field's value as read, what OCR said, how sure, and which digits are in doubt."""

    value: str
    raw: str
    confidence: float
    # 1-based positions (among the written characters) of comb digits Tesseract was
    # unsure of, when the number as read fails its check digit: for the reviewer.
    doubtful: tuple[int, ...] = ()


def typed_reading(field: FieldSpec, words: list[OcrWord], slots: Slots | None,
                  heights: list[int]) -> TypedReading:
    """The value of an OCR'd field from the words Tesseract read on it.

    `slots`: where each inked comb cell's glyph lies on the canvas (x from, x
    to), one slot for a whole text field; None when nothing is written.
    `heights`: for an e-mail field, the ink height at each character (see
    `_email`); empty otherwise.
    """
    joiner = "" if field.is_comb else " "
    raw = joiner.join(w.text for w in words)
    if slots is None:
        return TypedReading("", raw, 1.0)  # nothing written: certainly empty
    if not raw:
        return TypedReading("", raw, 0.0)
    changed = 0
    doubtful: tuple[int, ...] = ()
    decided = False
    if field.is_comb:
        cells, off = _comb_cells(field, words, slots)
        text, confidence, doubtful, decided = _comb_choice(field, cells)
        if off:
            confidence *= COUNT_PENALTY
    else:
        text, confidence = raw, _word_confidence(words)
    if field.type in NUMERIC_TYPES:
        text, changed = _numeric(text)
    elif field.type is FieldType.EMAIL:
        text, changed, ambiguous = _email(text, heights)
        if ambiguous:
            confidence *= AMBIGUOUS_PENALTY
    else:
        text = " ".join(text.split())
    confidence *= LOOKALIKE_PENALTY ** changed
    if decided:
        # The check digit chose between Tesseract's own candidates: a person confirms.
        confidence = min(confidence, REPAIRED_CONFIDENCE)
    try:
        value = clean_field(field, text) if text else ""
    except InvalidValue:
        # What was read stands, doubtful cells marked; validation makes it blocking.
        value = text
        confidence *= INVALID_PENALTY
    if field.type is FieldType.DATE and value == text:
        # A date that does not parse is left for a person: "" with low confidence.
        return TypedReading("", raw, min(confidence, UNREADABLE_CONFIDENCE))
    return TypedReading(value, raw, confidence, tuple(i + 1 for i in doubtful))
