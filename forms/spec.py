"""What a form is: its fields, their value types, and where each sits on the page.

This is the single source of truth for both the renderer (which draws every
box listed here) and the scan reader (which crops the same boxes after
aligning a scan to the canonical page). The layout is computed once, at import,
by a small builder that walks down the page; nothing else in the project
hard-codes a coordinate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from forms.geometry import FIDUCIALS, PAGE_WIDTH_MM, Box, Fiducial

FORM_VERSION = "2026.1"

# Every measure below is in millimetres on the canonical A4 page (see geometry.py).
LEFT = 18.0
RIGHT = PAGE_WIDTH_MM - 18.0
CONTENT_W = RIGHT - LEFT
GUTTER = 8.0
HALF_W = (CONTENT_W - GUTTER) / 2
RIGHT_COLUMN = LEFT + HALF_W + GUTTER
LABEL_H = 3.6
BOX_H = 8.0
ROW_GAP = 2.6
COMB_W = 6.0
# Dates are written by hand in the signature blocks, which are half a page wide.
DATE_CELL_W = 4.6
COMB_GAP = 3.0
CHECK = 4.0
CHOICE_PITCH = 40.0
SECTION_H = 6.5
SIGNATURE_HEADER_H = 9.0
SIGNATURE_H = 20.0
CONTENT_TOP = 57.0
NOTE_LINE_H = 3.6

class FormKind(StrEnum):
    DUAL = "dual"
    DISCONNECT = "disconnect"

    @property
    def code(self) -> str:
        """The one-letter code in the QR payload."""
        return {FormKind.DUAL: "D", FormKind.DISCONNECT: "B"}[self]

    @classmethod
    def from_code(cls, code: str) -> FormKind:
        for kind in cls:
            if kind.code == code:
                return kind
        raise ValueError(f"unknown form code {code!r}")


class FieldType(StrEnum):
    TEXT = "text"
    EMAIL = "email"
    ORGNR = "orgnr"
    SUBSCRIPTION = "subscription"
    CHOICE = "choice"
    DATE = "date"


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str
    box: Box


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field. `box` is the whole writing area; comb fields also list their cells."""

    name: str
    label: str
    type: FieldType
    box: Box
    required: bool = True
    max_len: int = 60
    cells: tuple[Box, ...] = ()
    groups: tuple[int, ...] = ()
    separator: str = ""
    options: tuple[Option, ...] = ()
    hint: str = ""
    hint_box: Box | None = None

    @property
    def is_comb(self) -> bool:
        return bool(self.cells)


@dataclass(frozen=True, slots=True)
class SignatureSpec:
    """A signature block: who signs, where the ink goes, and its companion fields.

    `header_box` holds the title and hint; `role_box` is where the role goes:
    the box of `role_field` when the signer chooses, else where `fixed_role`
    is printed.
    """

    party: str
    title: str
    hint: str
    area: Box
    name_field: str
    date_field: str
    role_field: str | None
    fixed_role: str | None
    header_box: Box
    role_box: Box


@dataclass(frozen=True, slots=True)
class Section:
    number: int
    title: str
    band: Box


@dataclass(frozen=True, slots=True)
class FormSpec:
    kind: FormKind
    version: str
    title: str
    subtitle: str
    instructions: tuple[str, ...]
    sections: tuple[Section, ...]
    fields: tuple[FieldSpec, ...]
    signatures: tuple[SignatureSpec, ...]
    qr_box: Box
    id_box: Box
    instructions_box: Box
    footer_box: Box
    title_box: Box
    fiducials: tuple[Fiducial, ...] = FIDUCIALS
    notes: tuple[str, ...] = field(default=())
    notes_box: Box | None = None

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)


ROLE_OPTIONS = (("accounting", "Redovisningsbyrå"), ("audit", "Revisionsbyrå"))
SIGNATORY_ROLE_OPTIONS = (("firmatecknare", "Firmatecknare"), ("sysadmin", "Systemadministratör"))


class _Builder:
    """Walks down the page placing sections and rows of fields."""

    def __init__(self, top: float = CONTENT_TOP, *, signature_h: float = SIGNATURE_H) -> None:
        self.y = top
        self.signature_h = signature_h
        self.fields: list[FieldSpec] = []
        self.sections: list[Section] = []
        self.signatures: list[SignatureSpec] = []

    def section(self, title: str) -> None:
        self.y += 1.6
        band = Box(LEFT - 2, self.y, CONTENT_W + 4, SECTION_H)
        self.sections.append(Section(len(self.sections) + 1, title, band))
        self.y = band.bottom + 2.0

    def text(self, name: str, label: str, x: float, w: float, *, ftype: FieldType = FieldType.TEXT,
             required: bool = True, max_len: int = 60, hint: str = "") -> FieldSpec:
        f = FieldSpec(name, label, ftype, Box(x, self.y + LABEL_H, w, BOX_H), required,
                      max_len, hint=hint)
        self.fields.append(f)
        return f

    def comb(self, name: str, label: str, x: float, groups: tuple[int, ...], ftype: FieldType,
             *, separator: str = "-", cell_w: float = COMB_W, hint: str = "",
             required: bool = True) -> FieldSpec:
        cells: list[Box] = []
        cx = x
        top = self.y + LABEL_H
        for gi, n in enumerate(groups):
            if gi:
                cx += COMB_GAP
            for _ in range(n):
                cells.append(Box(cx, top, cell_w, BOX_H))
                cx += cell_w
        # A hint sits beside the comb, up to the right margin, where a person reads on.
        hint_box = Box(cx + 3.0, top, RIGHT - cx - 3.0, BOX_H) if hint else None
        f = FieldSpec(name, label, ftype, Box(x, top, cx - x, BOX_H), required,
                      max_len=sum(groups), cells=tuple(cells), groups=groups,
                      separator=separator, hint=hint, hint_box=hint_box)
        self.fields.append(f)
        return f

    def choice(self, name: str, label: str, x: float, options: tuple[tuple[str, str], ...],
               *, widths: tuple[float, ...] | None = None, vertical: bool = False,
               required: bool = True) -> FieldSpec:
        """Checkboxes in a row (or a column); `widths` is the space each option takes."""
        pitches = widths or (CHOICE_PITCH,) * len(options)
        box_top = self.y + LABEL_H
        top = box_top + (BOX_H - CHECK) / 2
        opts = []
        cx, cy = x, top
        for i, (value, text) in enumerate(options):
            opts.append(Option(value, text, Box(cx, cy, CHECK, CHECK)))
            if vertical:
                cy += CHECK + 1.5
            else:
                cx += pitches[i]
        if vertical:
            width = pitches[0]
            height = max(BOX_H, opts[-1].box.bottom + (BOX_H - CHECK) / 2 - box_top)
        else:
            width, height = cx - x, BOX_H
        f = FieldSpec(name, label, FieldType.CHOICE, Box(x, box_top, width, height),
                      required, max_len=20, options=tuple(opts))
        self.fields.append(f)
        return f

    def next_row(self, extra: float = 0.0) -> None:
        self.y += LABEL_H + BOX_H + ROW_GAP + extra

    def company(self, prefix: str, name_label: str, *, subscription: bool = False,
                role: bool = False, email: bool = False) -> None:
        self.text(f"{prefix}_name", name_label, LEFT, CONTENT_W, max_len=60)
        self.next_row()
        self.comb(f"{prefix}_orgnr", "Organisationsnummer (enskild firma: personnummer)",
                  LEFT, (6, 4), FieldType.ORGNR)
        if subscription:
            self.comb(f"{prefix}_subscription", "Abonnemangsnummer (8 siffror)", RIGHT_COLUMN,
                      (8,), FieldType.SUBSCRIPTION, separator="",
                      hint="Ange korrekt abonnemangsnummer. Det står på fakturan.")
        if role:
            self.choice(f"{prefix}_role", "Typ av byrå", RIGHT_COLUMN, ROLE_OPTIONS)
        self.next_row()
        if email:
            self.text(f"{prefix}_email", "E-post till byråns systemadministratör", LEFT,
                      CONTENT_W, ftype=FieldType.EMAIL, max_len=80)
            self.next_row()

    def signature_block(self, party: str, title: str, hint: str, x: float, *,
                        role_choice: bool) -> float:
        """One signer's block, `HALF_W` wide from `x`; returns the y below it."""
        y0 = self.y
        header = Box(x, y0, HALF_W, SIGNATURE_HEADER_H)
        area = Box(x, header.bottom + LABEL_H, HALF_W, self.signature_h)
        self.y = area.bottom + 1.6
        name = self.text(f"{party}_signatory_name", "Namnförtydligande", x, HALF_W,
                         required=False, max_len=40)
        self.next_row()
        date = self.comb(f"{party}_date", "Datum (ÅÅÅÅ-MM-DD)", x, (4, 2, 2), FieldType.DATE,
                         cell_w=DATE_CELL_W, required=False)
        role_x = date.box.right + 4.0
        role_w = x + HALF_W - role_x
        role_field: str | None = None
        fixed: str | None = "Systemadministratör"
        if role_choice:
            role = self.choice(f"{party}_signatory_role", "Roll", role_x,
                               SIGNATORY_ROLE_OPTIONS, widths=(role_w,), vertical=True,
                               required=False)
            role_field, fixed, role_box = role.name, None, role.box
        else:
            role_box = Box(role_x, self.y + LABEL_H, role_w, BOX_H)
        self.next_row(role_box.h - BOX_H)
        bottom = self.y
        self.y = y0
        self.signatures.append(SignatureSpec(party, title, hint, area, name.name, date.name,
                                             role_field, fixed, header, role_box))
        return bottom

    def signatures_row(self, left: tuple[str, str, str, bool],
                       right: tuple[str, str, str, bool]) -> None:
        """Two signature blocks side by side: (party, title, hint, role_choice) each."""
        bottoms = [
            self.signature_block(party, title, hint, x, role_choice=choice)
            for x, (party, title, hint, choice) in ((LEFT, left), (RIGHT_COLUMN, right))
        ]
        self.y = max(bottoms)

    def notes_box(self, lines: int) -> Box:
        """Room below everything placed so far for `lines` lines of notes."""
        return Box(LEFT, self.y, CONTENT_W, lines * NOTE_LINE_H)


# The page furniture is the same on every form.
QR_BOX = Box(158.0, 8.0, 26.0, 26.0)
ID_BOX = Box(151.0, 34.5, 40.0, 4.5)
TITLE_BOX = Box(LEFT, 23.0, 128.0, 16.0)
INSTRUCTIONS_BOX = Box(LEFT, 41.0, CONTENT_W, 14.0)
FOOTER_BOX = Box(26.0, 281.0, 158.0, 7.0)


def _dual() -> FormSpec:
    b = _Builder()
    b.section("Klienten (företaget vars bokföring byråerna ska nå)")
    b.company("client", "Företagets namn", subscription=True)
    b.section("Byrå som redan är kopplad till klienten")
    b.company("current_firm", "Byråns namn", role=True)
    b.section("Byrå som ska kopplas till klienten")
    b.company("new_firm", "Byråns namn", role=True, email=True)
    b.section("Underskrifter")
    b.signatures_row(
        ("client", "Klientens firmatecknare eller systemadministratör",
         "Godkänner att byrån ovan får tillgång till företagets program.", True),
        ("new_firm", "Systemadministratör på byrån som ska kopplas",
         "Intygar att byrån ska kopplas till klienten enligt ovan.", False),
    )
    return FormSpec(
        kind=FormKind.DUAL,
        version=FORM_VERSION,
        title="Dubbelsammankoppling",
        subtitle="Koppla ytterligare en redovisnings- eller revisionsbyrå till en klient "
                 "som redan är kopplad till en byrå",
        instructions=(
            "Fyll i med tydliga versaler, en siffra per ruta. Klienten och den nya byrån "
            "skriver under.",
            "Skanna eller fotografera hela sidan (alla fyra hörnmarkeringar ska synas) "
            "och mejla den till {mailbox}.",
            "Efter granskning kopplas byrån till klienten och alla parter får ett bekräftelsemejl.",
        ),
        sections=tuple(b.sections),
        fields=tuple(b.fields),
        signatures=tuple(b.signatures),
        notes=("Båda byråerna når därefter klientens program. Byråns administratör "
               "tilldelar klienten till konsulter i sin klientlista.",),
        notes_box=b.notes_box(2),
        qr_box=QR_BOX,
        id_box=ID_BOX,
        title_box=TITLE_BOX,
        instructions_box=INSTRUCTIONS_BOX,
        footer_box=FOOTER_BOX,
    )


AFTER_OPTIONS = (
    ("takeover", "Företaget tar över abonnemanget och betalningsansvaret"),
    ("access_only", "Endast byråns åtkomst upphör"),
)


def _disconnect() -> FormSpec:
    # This form has fewer fields than the dual one: the room goes to the signatures.
    b = _Builder(signature_h=26.0)
    b.section("Företaget som ska kopplas bort")
    b.company("client", "Företagets namn", subscription=True)
    b.section("Byrån som företaget kopplas bort från")
    b.company("firm", "Byråns namn", role=True)
    b.section("Efter bortkopplingen")
    b.choice("after", "Välj ett alternativ", LEFT, AFTER_OPTIONS, widths=(CONTENT_W,),
             vertical=True)
    b.next_row(b.fields[-1].box.h - BOX_H)
    b.section("Underskrifter (både företaget och byrån ska skriva under)")
    b.signatures_row(
        ("client", "Företagets firmatecknare eller systemadministratör",
         "Begär att företaget kopplas bort från byrån.", True),
        ("firm", "Systemadministratör på byrån",
         "Godkänner att byrån kopplas bort från företaget.", False),
    )
    return FormSpec(
        kind=FormKind.DISCONNECT,
        version=FORM_VERSION,
        title="Bortkoppling",
        subtitle="Avsluta kopplingen mellan ett företag och en redovisnings- eller revisionsbyrå",
        instructions=(
            "Ange korrekt abonnemangsnummer. Blanketten ska skrivas under av både företaget "
            "och byrån.",
            "Skanna eller fotografera hela sidan (alla fyra hörnmarkeringar ska synas) "
            "och mejla den till {mailbox}.",
            "Har byrån betalat abonnemanget blir företaget betalningsansvarigt från nästa period.",
        ),
        sections=tuple(b.sections),
        fields=tuple(b.fields),
        signatures=tuple(b.signatures),
        notes=("Rätt personer ska skriva under: företagets firmatecknare eller "
               "systemadministratör och byråns systemadministratör.",
               "När bortkopplingen är gjord finns företaget inte längre i byråns klientlista, "
               "och både företaget och byrån får ett bekräftelsemejl."),
        notes_box=b.notes_box(4),
        qr_box=QR_BOX,
        id_box=ID_BOX,
        title_box=TITLE_BOX,
        instructions_box=INSTRUCTIONS_BOX,
        footer_box=FOOTER_BOX,
    )


FORMS: dict[FormKind, FormSpec] = {FormKind.DUAL: _dual(), FormKind.DISCONNECT: _disconnect()}


def form_spec(kind: FormKind | str) -> FormSpec:
    return FORMS[FormKind(kind)]
