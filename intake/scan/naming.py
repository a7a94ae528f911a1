"""How a read name compares with the one on record, and how fields are named to people.

`ocr_slip` decides whether a name read differently from the issued or
registered one can be that name misread: only case, spacing and at most
`MAX_SLIPS` characters that OCR confuses (l/1/I, O/0, å/a, rn/m...) may
differ, since anything else (a letter added, a "!" after a word) is a
difference a person must see. `name_score` ranks people by likeness.
`ocr_distance` is an edit distance in which what OCR confuses is cheap,
for matching a read e-mail address against registered ones.
`stray_characters` lists what in a read person's name is no part of a name
(a digit, a "|", a "!"), so such a reading is never taken as sure.
`field_label` names a field with its party ("Byrån som ska kopplas:
organisationsnummer"), because several fields share a printed label; the
rest spell numbers and doubts as the findings show them. Hand-written
rather than a fuzzy-matching library's: the rule is which substitutions OCR
makes, not how similar two strings look (no library in constraints.txt
weighs an edit by the pair of characters, nor lets one character stand for two).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from difflib import SequenceMatcher

from forms import FormKind, form_spec, luhn_checksum_ok
from intake.scan.model import FieldReading

__all__ = [
    "CONFUSABLE_GROUPS",
    "MAX_SLIPS",
    "PARTY_LABELS",
    "doubt_text",
    "field_label",
    "name_score",
    "near_numbers",
    "ocr_distance",
    "ocr_distance_parts",
    "ocr_slip",
    "percent",
    "shown_number",
    "stray_characters",
]

MAX_SLIPS = 2  # confusable characters a name may differ by and still be an OCR slip


def _norm(text: str) -> str:
    """Case, spacing and composed characters folded away, letters kept (å stays å)."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


# What OCR mistakes for what in names: each group reads as its first member. Only these
# substitutions (and spacing) can make a read name an OCR slip of the expected one.
CONFUSABLE_GROUPS = ("l1i|!", "o0öøq", "aåäà", "eéè", "uü", "s5", "b8", "z2", "g9")
_CONFUSABLE = {ch: group[0] for group in CONFUSABLE_GROUPS for ch in group}
_DIGRAPHS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def _confusable_form(text: str) -> str:
    folded = "".join(_norm(text).split())
    for pair, single in _DIGRAPHS:
        folded = folded.replace(pair, single)
    return "".join(_CONFUSABLE.get(ch, ch) for ch in folded)


def ocr_slip(read: str, expected: str) -> bool:
    """Whether `read` can be `expected` misread: equal but for spacing, case and at most
    MAX_SLIPS confusable characters (l/1/I, O/0, å/a, rn/m, ...).

    A character added or dropped, or one that no OCR mistakes for the other (a "!"
    after a word, a different letter), is a difference a person must see.
    """
    if _norm(read) == _norm(expected):
        return True
    a, b = _confusable_form(read), _confusable_form(expected)
    if a != b:
        return False
    plain_a, plain_b = "".join(_norm(read).split()), "".join(_norm(expected).split())
    if len(plain_a) != len(plain_b):
        return True  # a digraph read as one letter (rn/m): one slip
    return sum(x != y for x, y in zip(plain_a, plain_b, strict=True)) <= MAX_SLIPS


# ocr_distance's costs, in edits: a confusable pair (l/1, rn/m, ...) is a quarter of a
# real edit, a letter doubled or a double letter read once half of one.
CONFUSABLE_COST = 0.25
DOUBLED_COST = 0.5
STAND_IN_COST = 0.25  # a character OCR cannot produce, read as one of its stand-ins
# Punctuation OCR swaps in an address; not in CONFUSABLE_GROUPS, where "AB." and "AB,"
# would become the same company name.
PUNCTUATION_GROUPS = (".,·", "-_~")
_CHEAP = {ch: group for group in (*CONFUSABLE_GROUPS, *PUNCTUATION_GROUPS) for ch in group}


def _substitution(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return CONFUSABLE_COST if b in _CHEAP.get(a, "") else 1.0


def ocr_distance(read: str, recorded: str, *, stand_ins: Mapping[str, str] | None = None
                 ) -> float:
    """How many edits `read` is from `recorded`, where the edits OCR makes cost less.

    Both are case-folded. A substitution within a confusable group (l/1/I,
    0/o, å/a, ...) or of a digraph (rn/m, cl/d, vv/w, either way round)
    costs CONFUSABLE_COST, a letter read twice or a double letter read once
    DOUBLED_COST, anything else 1. `stand_ins` maps a character of
    `recorded` that OCR cannot produce to the glyphs it reads it as: one or
    two of them in `read` stand for it at STAND_IN_COST (the "@" of an
    e-mail address, which the Swedish model reads as "e", "Q" or "e6").
    Every other character of `read` is aligned with one of `recorded` or
    paid for, so a stand-in never swallows a neighbouring letter.
    """
    return sum(ocr_distance_parts(read, recorded, stand_ins=stand_ins))


def ocr_distance_parts(read: str, recorded: str, *, split: str = "@",
                       stand_ins: Mapping[str, str] | None = None) -> tuple[float, float]:
    """`ocr_distance` in two parts: the edits of what comes before `recorded`'s first
    `split` character, and the rest (the split character itself included).

    Both parts lie on one cheapest alignment; of equally cheap ones, the one that
    puts the most edits before the split. For an e-mail address: the local
    part's edits apart from the domain's. Without `split` in `recorded`, all
    edits are in the first part.
    """
    a = unicodedata.normalize("NFC", read).casefold()
    b = unicodedata.normalize("NFC", recorded).casefold()
    cut = b.find(split.casefold()) if split else -1
    cut = len(b) if cut < 0 else cut
    stand = {k.casefold(): v.casefold() for k, v in (stand_ins or {}).items()}
    digraphs = [(x, y) for pair, single in _DIGRAPHS for x, y in ((pair, single), (single, pair))]
    # The digraphs that start at each position of `read`, found once: testing all of
    # them in every cell of the table was most of this function's time.
    starting = [[(x, y) for x, y in digraphs if a.startswith(x, i)] for i in range(len(a) + 1)]
    inf = float("inf")
    # d[i][j]: the cost of a[:i] read for b[:j]; before[i][j]: of that, the edits made
    # before column `cut` was left (the path's cost where it crossed the split).
    d = [[inf] * (len(b) + 1) for _ in range(len(a) + 1)]
    before = [[0.0] * (len(b) + 1) for _ in range(len(a) + 1)]
    d[0][0] = 0.0

    def relax(x: int, y: int, cost: float, i: int, j: int) -> None:
        carried = d[i][j] if j <= cut else before[i][j]
        if cost < d[x][y] or (cost == d[x][y] and carried > before[x][y]):
            d[x][y] = cost
            before[x][y] = carried if y > cut else cost

    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            here = d[i][j]
            if here == inf:
                continue
            if i < len(a):  # a[i] read where nothing is recorded
                doubled = (i > 0 and a[i] == a[i - 1]) or (j > 0 and a[i] == b[j - 1])
                relax(i + 1, j, here + (DOUBLED_COST if doubled else 1.0), i, j)
            if j < len(b):  # b[j] recorded, not read
                doubled = (j > 0 and b[j] == b[j - 1]) or (j + 1 < len(b) and b[j] == b[j + 1])
                relax(i, j + 1, here + (DOUBLED_COST if doubled else 1.0), i, j)
            if i < len(a) and j < len(b):
                if b[j] in stand and a[i] != b[j]:
                    for n in (1, 2):
                        if i + n <= len(a) and all(ch in stand[b[j]] for ch in a[i:i + n]):
                            relax(i + n, j + 1, here + STAND_IN_COST, i, j)
                relax(i + 1, j + 1, here + _substitution(a[i], b[j]), i, j)
            for x, y in starting[i]:
                if b.startswith(y, j):
                    relax(i + len(x), j + len(y), here + CONFUSABLE_COST, i, j)
    total, first = d[len(a)][len(b)], before[len(a)][len(b)]
    return first, total - first


def name_score(written: str, recorded: str) -> float:
    """How alike two person names are, 0..1; word order does not matter."""
    a, b = _norm(written), _norm(recorded)
    if not a or not b:
        return 0.0
    plain = SequenceMatcher(None, a, b).ratio()
    ordered = SequenceMatcher(None, " ".join(sorted(a.split())), " ".join(sorted(b.split())))
    return max(plain, ordered.ratio())


# Besides letters (any script's, so é, ü and ø are letters) and spaces: what a person's
# name may hold. "Anna-Karin", "O'Neill", "K. Åberg".
NAME_PUNCTUATION = "-'’."


def stray_characters(name: str) -> str:
    """The characters of a read person's name that are no part of a name (digits, "|",
    "!", ...), each once, in the order read; "" for a plain name."""
    stray = (ch for ch in unicodedata.normalize("NFC", name)
             if not (ch.isalpha() or ch.isspace() or ch in NAME_PUNCTUATION))
    return "".join(dict.fromkeys(stray))


def percent(share: float, decimals: int = 0) -> str:
    """A share as Swedish writes a percentage: "92 %", "3,5 %"."""
    return f"{share * 100:.{decimals}f} %".replace(".", ",")


PARTY_LABELS = {
    FormKind.DUAL: {"client": "Klienten", "current_firm": "Byrån som redan är kopplad",
                    "new_firm": "Byrån som ska kopplas"},
    FormKind.DISCONNECT: {"client": "Företaget", "firm": "Byrån"},
}


def _short(label: str) -> str:
    """A field's printed label without its hint in brackets, as the end of a sentence part."""
    text = label.split(" (", 1)[0]
    return text[:1].lower() + text[1:]


def field_label(kind: FormKind, name: str) -> str:
    """A field's label with its party, unambiguous on the form: "Byrån som ska kopplas:
    organisationsnummer", "Klientens firmatecknare eller systemadministratör: datum"."""
    spec = form_spec(kind)
    field = spec.field(name)
    for sig in spec.signatures:
        if name in (sig.name_field, sig.date_field, sig.role_field):
            return f"{sig.title}: {_short(field.label)}"
    parties = PARTY_LABELS[kind]
    prefix = max((p for p in parties if name.startswith(f"{p}_")), key=len, default=None)
    if prefix is None:
        return field.label
    return f"{parties[prefix]}: {_short(field.label)}"


def shown_number(value: str) -> str:
    """A number as it is written for people, also when it fails its check."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 10 and len(digits) == sum(ch.isalnum() for ch in value):
        return f"{digits[:6]}-{digits[6:]}"
    return value


def near_numbers(digits: str) -> list[str]:
    """Every number one digit or one swap of neighbours from `digits` that passes Luhn."""
    out: list[str] = []
    for i, digit in enumerate(digits):
        for alt in "0123456789":
            if alt != digit:
                out.append(digits[:i] + alt + digits[i + 1:])
    for i in range(len(digits) - 1):
        if digits[i] != digits[i + 1]:
            out.append(digits[:i] + digits[i + 1] + digits[i] + digits[i + 2:])
    return [n for n in dict.fromkeys(out) if luhn_checksum_ok(n)]


def doubt_text(reading: FieldReading | None) -> str:
    if reading is None or not reading.doubtful:
        return ""
    places = [str(i) for i in reading.doubtful]
    listed = places[0] if len(places) == 1 else ", ".join(places[:-1]) + " och " + places[-1]
    return f" Osäkert lästa siffror (räknat från vänster): {listed}."
