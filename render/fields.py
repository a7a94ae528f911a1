"""Drawing a form's fields and signature blocks from their boxes in forms/spec.py.

Every field is drawn the same way whatever form it is on: its label above its
box, then the box itself (one box per cell for a comb), then the pre-filled
value, if any, in the monospaced face. Nothing here knows a coordinate of its
own; offsets are typographic (how far a label sits above its box).
"""

from __future__ import annotations

from forms import Box, FieldSpec, FieldType, SignatureSpec
from render.errors import RenderError
from render.page import (
    BODY_SIZE,
    COMB_VALUE_SIZE,
    FAINT,
    HINT,
    HINT_SIZE,
    LABEL,
    LABEL_SIZE,
    MARK_LINE,
    VALUE_SIZE,
    Page,
    pt_to_mm,
)

LABEL_LIFT = 1.1  # mm between a label's baseline and the top of its box
VALUE_PAD = 1.8  # mm between a box's left edge and a typed value
OPTION_GAP = 1.6  # mm between a checkbox and its option label
MARK_INSET = 0.8  # mm between a checkbox's edge and the ends of its X
SIGNATURE_BASELINE = 1.1  # pt: the line to sign on, the signature area's lower edge
SIGNATURE_TITLE_SIZE = 8.0
SIGNATURE_CAPTION = "Underskrift"
ROLE_LABEL = "Roll"


def draw_label(page: Page, text: str, box: Box) -> None:
    size = page.fit_size(text, page.fonts.sans, LABEL_SIZE, box.w)
    page.text(box.x, box.y - LABEL_LIFT, text, page.fonts.sans, size, color=LABEL)


def draw_field(page: Page, field: FieldSpec, value: str | None) -> None:
    draw_label(page, field.label, field.box)
    if field.type is FieldType.CHOICE:
        _draw_choice(page, field, value)
    elif field.is_comb:
        _draw_comb(page, field, value)
    else:
        page.rect(field.box)
        if value:
            page.text_in(field.box, value, page.fonts.mono, VALUE_SIZE, pad=VALUE_PAD,
                         min_size=7.0)
    if field.hint and field.hint_box is not None:
        page.paragraph(field.hint_box, field.hint, page.fonts.sans, HINT_SIZE, color=HINT,
                       valign="middle")


def comb_groups(field: FieldSpec) -> list[tuple[Box, ...]]:
    """The comb's cells split into its groups (the runs between printed separators)."""
    out: list[tuple[Box, ...]] = []
    start = 0
    for n in field.groups or (len(field.cells),):
        out.append(field.cells[start:start + n])
        start += n
    return out


def comb_characters(field: FieldSpec, value: str) -> str:
    """The characters of `value` that go into cells: separators are printed, not typed."""
    chars = "".join(ch for ch in value if ch not in field.separator and not ch.isspace())
    if len(chars) > len(field.cells):
        raise RenderError(
            f"{field.name}: {value!r} has {len(chars)} characters for {len(field.cells)} cells"
        )
    return chars


def _draw_comb(page: Page, field: FieldSpec, value: str | None) -> None:
    groups = comb_groups(field)
    chars = comb_characters(field, value) if value else ""
    mono = page.fonts.mono
    # Type scales with the cell: a 5 mm cell gets the text-field size, wider ones up to 12 pt.
    size = min(COMB_VALUE_SIZE, VALUE_SIZE * field.cells[0].w / 5.0)
    advance = page.width("0", mono, size)
    # Group by group, separator first, so the PDF's text reads like the value: 556677-8899.
    start = 0
    for i, cells in enumerate(groups):
        first, last = cells[0], cells[-1]
        if i and field.separator:
            before = groups[i - 1][-1]
            gap = Box(before.right, first.y, first.x - before.right, first.h)
            page.text_in(gap, field.separator, page.fonts.bold, BODY_SIZE + 2, align="centre",
                         min_size=4.0)
        page.rect(Box(first.x, first.y, last.right - first.x, first.h))
        for cell in cells[1:]:
            page.line(cell.x, cell.y, cell.x, cell.bottom)
        text = chars[start:start + len(cells)]
        start += len(cells)
        if text:
            pitch = cells[1].x - first.x if len(cells) > 1 else first.w
            page.spaced_text(first.x + (first.w - advance) / 2,
                             page.centred_baseline(first, size), text, mono, size,
                             pitch - advance)


def _draw_choice(page: Page, field: FieldSpec, value: str | None) -> None:
    if value and value not in {o.value for o in field.options}:
        raise RenderError(f"{field.name}: {value!r} is not one of its options")
    for opt in field.options:
        box = opt.box
        page.rect(box)
        # An option's label runs up to the next checkbox on its row, or the field's edge.
        limit = min((o.box.x for o in field.options
                     if o.box.x > box.x and abs(o.box.y - box.y) < box.h), default=field.box.right)
        label_box = Box(box.right + OPTION_GAP, box.y, limit - box.right - 2 * OPTION_GAP, box.h)
        page.text_in(label_box, opt.label, page.fonts.sans, BODY_SIZE)
        if opt.value == value:
            inner = box.inset(MARK_INSET)
            page.line(inner.x, inner.y, inner.right, inner.bottom, width=MARK_LINE)
            page.line(inner.x, inner.bottom, inner.right, inner.y, width=MARK_LINE)


def draw_signature(page: Page, sig: SignatureSpec) -> None:
    """The block's own marks; its name, date and role fields are drawn as fields."""
    header = sig.header_box
    bold, sans = page.fonts.bold, page.fonts.sans
    title_size = page.fit_size(sig.title, bold, SIGNATURE_TITLE_SIZE, header.w)
    page.text(header.x, header.y + pt_to_mm(title_size) + 0.2, sig.title, bold, title_size)
    hint_size = page.fit_size(sig.hint, sans, HINT_SIZE, header.w)
    page.text(header.x, header.y + pt_to_mm(title_size) + 3.4, sig.hint, sans, hint_size,
              color=HINT)

    # Only the outline is printed inside the area, so any ink found there is the signature.
    area = sig.area
    draw_label(page, SIGNATURE_CAPTION, area)
    page.rect(area, stroke=FAINT)
    page.line(area.x, area.bottom, area.right, area.bottom, width=SIGNATURE_BASELINE)

    if sig.fixed_role is not None:
        draw_label(page, ROLE_LABEL, sig.role_box)
        page.text_in(sig.role_box, sig.fixed_role, bold, BODY_SIZE)
    elif sig.role_field is None:
        raise RenderError(f"signature block {sig.party!r} has neither a role field nor a role")
