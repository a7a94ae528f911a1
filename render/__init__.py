"""Forms to PDF: pre-filled forms to print and sign, and blank ones to fill in by hand.

`render_form_pdf` draws a form from its spec in forms/spec.py; `issue_form`
and `blank_form` are what the web pages and the CLI call (validate, record,
render). `RenderError` (exit code 70) is the root of what can go wrong here.
"""

from render.errors import RenderError
from render.issue import RenderedForm, blank_form, issue_form
from render.mail import RenderedMail, render_mail
from render.pdf import render_form_pdf

__all__ = [
    "RenderError",
    "RenderedForm",
    "RenderedMail",
    "blank_form",
    "issue_form",
    "render_form_pdf",
    "render_mail",
]
