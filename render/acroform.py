"""Fillable PDF fields on a blank form, over the printed boxes.

The printed boxes stay, so the same PDF works typed-into or printed and
written on by hand. A comb becomes one AcroForm text field per group with the
comb flag, so a viewer puts each typed character in its own printed cell; a
choice becomes a radio group with one button per printed checkbox. Field
names are the spec's field names (a comb group adds `_1`, `_2`, ...), so a
filled-in PDF that comes back can be read by name.
"""

from __future__ import annotations

from reportlab.pdfgen.canvas import Canvas

from forms import Box, FieldSpec, FieldType, FormSpec
from render.fields import comb_groups
from render.page import INK, Page, mm_to_pt

# AcroForm text can only use the standard 14 fonts; Courier is the monospaced one.
FILL_FONT = "Courier-Bold"
FILL_SIZE = 11


def _rect(box: Box) -> dict[str, float]:
    return {"x": Page.x(box.x), "y": Page.y(box.bottom),
            "width": mm_to_pt(box.w), "height": mm_to_pt(box.h)}


def comb_field_names(field: FieldSpec) -> list[str]:
    groups = comb_groups(field)
    if len(groups) == 1:
        return [field.name]
    return [f"{field.name}_{i + 1}" for i in range(len(groups))]


def add_fillable_fields(canvas: Canvas, spec: FormSpec) -> None:
    form = canvas.acroForm
    common = {"borderWidth": 0, "fillColor": None, "borderColor": None, "textColor": INK}
    for field in spec.fields:
        if field.type is FieldType.CHOICE:
            for opt in field.options:
                form.radio(name=field.name, value=opt.value, selected=False,
                           tooltip=f"{field.label}: {opt.label}", buttonStyle="cross",
                           shape="square", fieldFlags="radio", size=mm_to_pt(opt.box.w),
                           x=Page.x(opt.box.x), y=Page.y(opt.box.bottom), **common)
        elif field.is_comb:
            for name, cells in zip(comb_field_names(field), comb_groups(field), strict=True):
                box = Box(cells[0].x, cells[0].y, cells[-1].right - cells[0].x, cells[0].h)
                form.textfield(name=name, tooltip=field.label, value="", maxlen=len(cells),
                               fieldFlags="comb", fontName=FILL_FONT, fontSize=FILL_SIZE,
                               **_rect(box), **common)
        else:
            # Inset, so a viewer's field highlight leaves the printed border visible.
            form.textfield(name=field.name, tooltip=field.label, value="",
                           maxlen=field.max_len, fontName=FILL_FONT, fontSize=FILL_SIZE,
                           **_rect(field.box.inset(0.3)), **common)
