"""PNG previews of both forms, pre-filled with realistic values and blank.

`python -m samples.make_previews` writes samples/previews/{dual,disconnect}-
{prefilled,blank}.png at 110 dpi: what a customer sees when printing, and what
a reviewer looks at when the layout in forms/spec.py changes. The values are
invented but valid (Luhn-checked organisationsnummer, real subscription
number check digits); the QR key is a preview-only constant.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from forms import (
    FormKind,
    blank_payload,
    clean_values,
    form_spec,
    luhn_check_digit,
    make_subscription_number,
    sign_payload,
)
from render import render_form_pdf

PREVIEWS = Path(__file__).parent / "previews"
DPI = 110
MAILBOX = "kopplingar@example.se"
PREVIEW_KEY = b"preview-only-key-never-used-for-issued-forms"
# Fixed ids keep the committed previews stable from run to run.
PREVIEW_IDS = {FormKind.DUAL: "7K3QX9P2MD", FormKind.DISCONNECT: "4HBV8WT6RC"}


def orgnr(first_nine: str) -> str:
    """A valid organisationsnummer from its first nine digits."""
    return f"{first_nine[:6]}-{first_nine[6:]}{luhn_check_digit(first_nine)}"


CLIENT = {
    "client_name": "Bergström & Ek Bygg AB",
    "client_orgnr": orgnr("556812437"),
    "client_subscription": make_subscription_number(4711235),
}

SAMPLE_VALUES: dict[FormKind, dict[str, str]] = {
    FormKind.DUAL: CLIENT | {
        "current_firm_name": "Norrlands Redovisning & Lön AB",
        "current_firm_orgnr": orgnr("559034128"),
        "current_firm_role": "accounting",
        "new_firm_name": "Åkesson Revision KB",
        "new_firm_orgnr": orgnr("969771234"),
        "new_firm_role": "audit",
        "new_firm_email": "systemadmin@akessonrevision.se",
        "client_signatory_name": "Karin Bergström",
        "client_signatory_role": "firmatecknare",
        "new_firm_signatory_name": "Jörgen Åkesson",
    },
    FormKind.DISCONNECT: CLIENT | {
        "firm_name": "Norrlands Redovisning & Lön AB",
        "firm_orgnr": orgnr("559034128"),
        "firm_role": "accounting",
        "after": "takeover",
        "client_signatory_name": "Karin Bergström",
        "client_signatory_role": "firmatecknare",
        "firm_signatory_name": "Märta Öhman",
    },
}


def render_pair(kind: FormKind) -> tuple[bytes, bytes]:
    """(pre-filled, blank) PDFs of `kind` with the sample values."""
    spec = form_spec(kind)
    values = clean_values(kind, SAMPLE_VALUES[kind])
    payload = sign_payload(PREVIEW_KEY, kind.code, spec.version, PREVIEW_IDS[kind])
    prefilled = render_form_pdf(spec, values, mailbox=MAILBOX, payload=payload)
    blank = render_form_pdf(spec, {}, mailbox=MAILBOX,
                            payload=blank_payload(kind.code, spec.version), blank=True)
    return prefilled, blank


def rasterise(pdf: bytes, dpi: float) -> Image.Image:
    doc = pdfium.PdfDocument(pdf)
    try:
        image: Image.Image = doc[0].render(scale=dpi / 72, may_draw_forms=True).to_pil()
    finally:
        doc.close()
    return image


def write_previews(out_dir: Path, dpi: float = DPI) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in FormKind:
        for variant, pdf in zip(("prefilled", "blank"), render_pair(kind), strict=True):
            path = out_dir / f"{kind.value}-{variant}.png"
            # A page is black, white and a few greys: a 16-colour palette keeps the file small.
            image = rasterise(pdf, dpi).convert("L").quantize(16)
            image.save(path, optimize=True)
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=PREVIEWS)
    parser.add_argument("--dpi", type=float, default=DPI)
    args = parser.parse_args()
    for path in write_previews(args.out, args.dpi):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
