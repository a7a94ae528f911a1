"""What OCR text becomes, field by field: clean-up, confidence and repair.

`read.py` cuts the fields out and runs Tesseract; this module turns the
words Tesseract gave one field into that field's value:

* a comb field gets exactly one character per inked cell, from the
  characters' boxes, and where Tesseract saw two characters on one cell the
  check digit (organisationsnummer, subscription number) decides;
* letter/digit look-alikes are mapped in numeric fields only;
* a number that fails its check digit is repaired when exactly one swap of
  look-alike digits (a blurred dotted zero read as 8, 6 or 9, first) makes
  it valid, with a confidence that sends it to a person's eye;
* an e-mail address gets back the "@" the Swedish model cannot produce;
* everything ends in `forms.clean_field` for the canonical text, and the
  confidence (Tesseract's, lowered for every doubt) is 0..1.
"""

from __future__ import annotations

import itertools

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
# What the printed digits are mistaken for once blurred or thresholded, for the
# check-digit repair: first DejaVu's dotted zero (read as 8, 6 or 9), then the rest.
CONFUSABLE_TIERS: tuple[dict[str, str], ...] = (
    {"8": "0", "6": "0", "9": "0"},
    {"0": "869", "8": "693", "9": "8", "6": "85", "5": "6", "3": "8", "1": "7", "7": "1"},
)
CHECK_DIGIT_TYPES = (FieldType.ORGNR, FieldType.SUBSCRIPTION)
REPAIRED_CONFIDENCE = 0.5  # a repaired number is right more often than not; a person checks
# Between two possible repairs, the digit Tesseract was least sure of must be this much less
# sure than the other (measured: a misread zero 0.93-0.96, its neighbours 0.98-0.99).
TIE_MARGIN = 0.02
MAX_AMBIGUOUS_CELLS = 4  # cells with two candidates tried against the check digit (2^4 tries)
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


def _comb_choice(field: FieldSpec, cells: list[list[OcrChar]]) -> tuple[str, float]:
    """The comb's text from its cells' candidates, and its confidence.

    Where a cell has more than one candidate, the first combination (in rank
    order) that passes the field's validator wins: the check digit of an
    organisationsnummer or a subscription number decides between two
    characters Tesseract itself saw in that cell. Otherwise each cell's first.
    """
    filled = [cell for cell in cells if cell]
    first = "".join(cell[0].text for cell in filled)
    confidence = sum(cell[0].confidence for cell in filled) / len(filled) if filled else 0.0
    ambiguous = [i for i, cell in enumerate(filled) if len(cell) > 1][:MAX_AMBIGUOUS_CELLS]
    if not ambiguous or field.type not in (FieldType.ORGNR, FieldType.SUBSCRIPTION):
        return first, confidence
    choices = [range(len(filled[i])) for i in ambiguous]
    for combo in sorted(itertools.product(*choices), key=sum):
        picks = [cell[0] for cell in filled]
        for i, k in zip(ambiguous, combo, strict=True):
            picks[i] = filled[i][k]
        text = _numeric("".join(c.text for c in picks))[0]
        try:
            clean_field(field, text)
        except InvalidValue:
            continue
        return "".join(c.text for c in picks), confidence
    return first, confidence


def _repair(field: FieldSpec, digits: str, confidences: list[float] | None = None) -> str | None:
    """The value a single confusable digit away from `digits` that passes the check.

    Used only when what was read fails the field's check digit. A blurred
    or thresholded dotted zero is read as 8, 6 or 9; Luhn catches every
    single wrong digit, and when exactly one look-alike swap (zeros first)
    makes the number valid, that swap is the reading, with a confidence low
    enough to send it to a person's eye. When two swaps in the first tier
    that has any would do, Tesseract's own per-character confidence decides,
    but only if the character it was least sure of is clearly less sure than
    the others (by TIE_MARGIN); otherwise none is taken.
    """
    if not digits.isdigit() or len(digits) != len(field.cells):
        return None
    for confusable in CONFUSABLE_TIERS:
        found: dict[str, int] = {}
        for i, digit in enumerate(digits):
            for alt in confusable.get(digit, ""):
                try:
                    found.setdefault(clean_field(field, digits[:i] + alt + digits[i + 1:]), i)
                except InvalidValue:
                    continue
        if len(found) == 1:
            return next(iter(found))
        if found:
            return _least_sure(found, confidences)
    return None


def _least_sure(found: dict[str, int], confidences: list[float] | None) -> str | None:
    if confidences is None or len(confidences) <= max(found.values()):
        return None
    ranked = sorted(found.items(), key=lambda item: confidences[item[1]])
    (best, at), (_, runner_up) = ranked[0], ranked[1]
    if confidences[runner_up] - confidences[at] < TIE_MARGIN:
        return None
    return best


def typed_reading(field: FieldSpec, words: list[OcrWord], slots: Slots | None,
                  heights: list[int]) -> tuple[str, str, float]:
    """(value, raw, confidence) of an OCR'd field from the words Tesseract read on it.

    `slots`: where each inked comb cell's glyph lies on the canvas (x from, x
    to), one slot for a whole text field; None when nothing is written.
    `heights`: for an e-mail field, the ink height at each character (see
    `_email`); empty otherwise.
    """
    joiner = "" if field.is_comb else " "
    raw = joiner.join(w.text for w in words)
    if slots is None:
        return "", raw, 1.0  # nothing written: certainly empty
    if not raw:
        return "", raw, 0.0
    changed = 0
    per_cell: list[float] | None = None
    if field.is_comb:
        cells, off = _comb_cells(field, words, slots)
        text, confidence = _comb_choice(field, cells)
        if off:
            confidence *= COUNT_PENALTY
        else:
            per_cell = [cell[0].confidence for cell in cells]
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
    try:
        value = clean_field(field, text) if text else ""
    except InvalidValue:
        value = text
        confidence *= INVALID_PENALTY
        repaired = _repair(field, text, per_cell) if field.type in CHECK_DIGIT_TYPES else None
        if repaired is not None:
            value, confidence = repaired, min(confidence / INVALID_PENALTY, REPAIRED_CONFIDENCE)
    if field.type is FieldType.DATE and value == text:
        # A date that does not parse is left for a person: "" with low confidence.
        return "", raw, min(confidence, UNREADABLE_CONFIDENCE)
    return value, raw, confidence
