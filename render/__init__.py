"""Forms to PDF: pre-filled forms to print and sign, and blank ones to fill in by hand.

`render_form_pdf` draws a form from its spec in forms/spec.py; `issue_form`
and `blank_form` are what the web pages and the CLI call (validate, record,
render); `render_mail` renders the Swedish mails from their templates.
`RenderError` (EX_SOFTWARE) is the root of what can go wrong here. The public
form pages are `render.web`, public to the app assembly only.
"""

from render.errors import RenderError
from render.issue import RenderedForm, blank_form, issue_form
from render.mail import SWEDISH_TIME, RenderedMail, blankett, blankett_id, datum, render_mail
from render.pdf import render_form_pdf
from render.raster import blank_page_image, page_image, rasterise_pdf
from render.ratelimit import RateLimiter

__all__ = [
    "SWEDISH_TIME",
    "RateLimiter",
    "RenderError",
    "RenderedForm",
    "RenderedMail",
    "blank_form",
    "blank_page_image",
    "blankett",
    "blankett_id",
    "datum",
    "issue_form",
    "page_image",
    "rasterise_pdf",
    "render_form_pdf",
    "render_mail",
]
