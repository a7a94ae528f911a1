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

LEFT = 18.0
RIGHT = PAGE_WIDTH_MM - 18.0
CONTENT_W = RIGHT - LEFT
HALF_W = (CONTENT_W - 8.0) / 2
LABEL_H = 3.6
BOX_H = 8.0
COMB_W = 6.0
COMB_GAP = 3.0
CHECK = 4.0


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

    @property
    def is_comb(self) -> bool:
        return bool(self.cells)


@dataclass(frozen=True, slots=True)
class SignatureSpec:
    """A signature block: who signs, where the ink goes, and its companion fields."""

    party: str
    title: str
    hint: str
    area: Box
    name_field: str
    date_field: str
    role_field: str | None
    fixed_role: str | None


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
    fiducials: tuple[Fiducial, ...] = FIDUCIALS
    notes: tuple[str, ...] = field(default=())

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

    def __init__(self, top: float) -> None:
        self.y = top
        self.fields: list[FieldSpec] = []
        self.sections: list[Section] = []
        self.signatures: list[SignatureSpec] = []

    def section(self, title: str) -> None:
        self.y += 2.0
        band = Box(LEFT - 2, self.y, CONTENT_W + 4, 6.5)
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
        f = FieldSpec(name, label, ftype, Box(x, top, cx - x, BOX_H), required,
                      max_len=sum(groups), cells=tuple(cells), groups=groups,
                      separator=separator, hint=hint)
        self.fields.append(f)
        return f

    def choice(self, name: str, label: str, x: float, options: tuple[tuple[str, str], ...],
               *, widths: tuple[float, ...] | None = None, vertical: bool = False,
               required: bool = True) -> FieldSpec:
        top = self.y + LABEL_H + (BOX_H - CHECK) / 2
        opts = []
        cx, cy = x, top
        for i, (value, text) in enumerate(options):
            opts.append(Option(value, text, Box(cx, cy, CHECK, CHECK)))
            if vertical:
                cy += CHECK + 1.5
            else:
                cx += widths[i] if widths else 42.0
        width = (widths[0] if widths else 42.0) if vertical else cx - x
        height = max(BOX_H, cy - top + (BOX_H - CHECK) / 2) if vertical else BOX_H
        f = FieldSpec(name, label, FieldType.CHOICE, Box(x, self.y + LABEL_H, width, height),
                      required, max_len=20, options=tuple(opts))
        self.fields.append(f)
        return f

    def next_row(self, extra: float = 0.0) -> None:
        self.y += LABEL_H + BOX_H + 2.6 + extra

    def company(self, prefix: str, name_label: str, *, subscription: bool = False,
                role: bool = False, email: bool = False) -> None:
        self.text(f"{prefix}_name", name_label, LEFT, CONTENT_W, max_len=60)
        self.next_row()
        self.comb(f"{prefix}_orgnr", "Organisationsnummer (eller personnummer för enskild firma)",
                  LEFT, (6, 4), FieldType.ORGNR)
        if subscription:
            self.comb(f"{prefix}_subscription", "Abonnemangsnummer (8 siffror)", 110.0, (8,),
                      FieldType.SUBSCRIPTION, separator="",
                      hint="Ange korrekt abonnemangsnummer, det står på fakturan.")
        if role:
            self.choice(f"{prefix}_role", "Typ av byrå", 110.0, ROLE_OPTIONS)
        self.next_row()
        if email:
            self.text(f"{prefix}_email", "E-post till byråns systemadministratör", LEFT, 110.0,
                      ftype=FieldType.EMAIL, max_len=80)
            self.next_row()

    def signature_block(self, party: str, title: str, hint: str, x: float, w: float, top: float,
                        *, role_choice: bool) -> float:
        area = Box(x, top + 9.0, w, 20.0)
        y0 = self.y
        self.y = area.bottom + 1.0
        name = self.text(f"{party}_signatory_name", "Namnförtydligande", x, w,
                         required=False, max_len=40)
        self.next_row()
        date = self.comb(f"{party}_date", "Datum (ÅÅÅÅ-MM-DD)", x, (4, 2, 2), FieldType.DATE,
                         cell_w=5.0, required=False)
        role_field: str | None = None
        fixed: str | None = "Systemadministratör"
        if role_choice:
            role = self.choice(f"{party}_signatory_role", "Roll", x + 49.0,
                               SIGNATORY_ROLE_OPTIONS, widths=(HALF_W - 49.0,), vertical=True,
                               required=False)
            role_field, fixed = role.name, None
        self.next_row(3.0)
        bottom = self.y
        self.y = y0
        self.signatures.append(SignatureSpec(party, title, hint, area, name.name, date.name,
                                             role_field, fixed))
        return bottom



def _common_boxes() -> dict[str, Box]:
    return {
        "qr_box": Box(158.0, 8.0, 26.0, 26.0),
        "id_box": Box(150.0, 34.5, 40.0, 4.5),
        "instructions_box": Box(LEFT, 42.0, CONTENT_W, 17.0),
        "footer_box": Box(24.0, 282.0, 162.0, 6.0),
    }


def _dual() -> FormSpec:
    b = _Builder(top=61.0)
    b.section("Klienten (företaget vars bokföring byråerna ska nå)")
    b.company("client", "Företagets namn", subscription=True)
    b.section("Byrå som redan är kopplad till klienten")
    b.company("current_firm", "Byråns namn", role=True)
    b.section("Byrå som ska kopplas till klienten")
    b.company("new_firm", "Byråns namn", role=True, email=True)
    b.section("Underskrifter")
    top = b.y
    bottom = b.signature_block(
        "client", "Klientens firmatecknare eller systemadministratör",
        "Godkänner att byrån ovan får tillgång till företagets program.",
        LEFT, HALF_W, top, role_choice=True)
    b.signature_block(
        "new_firm", "Systemadministratör på byrån som ska kopplas",
        "Intygar att byrån ska kopplas till klienten enligt ovan.",
        LEFT + HALF_W + 8.0, HALF_W, top, role_choice=False)
    b.y = bottom
    return FormSpec(
        kind=FormKind.DUAL,
        version=FORM_VERSION,
        title="Dubbelsammankoppling",
        subtitle="Koppla ytterligare en redovisnings- eller revisionsbyrå till en klient "
                 "som redan är kopplad till en byrå",
        instructions=(
            "Fyll i med tydliga versaler, en siffra per ruta. Klienten och den nya byrån skriver under.",
            "Skanna eller fotografera hela sidan (alla fyra hörnmarkeringar ska synas) "
            "och mejla den till {mailbox}.",
            "Efter granskning kopplas byrån till klienten och alla parter får ett bekräftelsemejl.",
        ),
        sections=tuple(b.sections),
        fields=tuple(b.fields),
        signatures=tuple(b.signatures),
        notes=("Båda byråerna når därefter klientens program. Byråns administratör "
               "tilldelar klienten till konsulter i sin klientlista.",),
        **_common_boxes(),
    )


AFTER_OPTIONS = (
    ("takeover", "Företaget tar över abonnemanget och betalningsansvaret"),
    ("access_only", "Endast byråns åtkomst upphör"),
)


def _disconnect() -> FormSpec:
    b = _Builder(top=61.0)
    b.section("Företaget som ska kopplas bort")
    b.company("client", "Företagets namn", subscription=True)
    b.section("Byrån som företaget kopplas bort från")
    b.company("firm", "Byråns namn", role=True)
    b.section("Efter bortkopplingen")
    b.choice("after", "Välj ett alternativ", LEFT, AFTER_OPTIONS, widths=(100.0, 70.0))
    b.next_row()
    b.section("Underskrifter (både företaget och byrån ska skriva under)")
    top = b.y
    bottom = b.signature_block(
        "client", "Företagets firmatecknare eller systemadministratör",
        "Begär att företaget kopplas bort från byrån.",
        LEFT, HALF_W, top, role_choice=True)
    b.signature_block(
        "firm", "Systemadministratör på byrån",
        "Godkänner att byrån kopplas bort från företaget.",
        LEFT + HALF_W + 8.0, HALF_W, top, role_choice=False)
    b.y = bottom
    return FormSpec(
        kind=FormKind.DISCONNECT,
        version=FORM_VERSION,
        title="Bortkoppling",
        subtitle="Avsluta kopplingen mellan ett företag och en redovisnings- eller revisionsbyrå",
        instructions=(
            "Ange korrekt abonnemangsnummer. Blanketten ska skrivas under av både företaget och byrån.",
            "Skanna eller fotografera hela sidan (alla fyra hörnmarkeringar ska synas) "
            "och mejla den till {mailbox}.",
            "Har byrån betalat abonnemanget blir företaget betalningsansvarigt från nästa period.",
        ),
        sections=tuple(b.sections),
        fields=tuple(b.fields),
        signatures=tuple(b.signatures),
        **_common_boxes(),
    )


FORMS: dict[FormKind, FormSpec] = {FormKind.DUAL: _dual(), FormKind.DISCONNECT: _disconnect()}


def form_spec(kind: FormKind | str) -> FormSpec:
    return FORMS[FormKind(kind)]
