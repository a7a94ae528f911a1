"""Screenshots of the registry search and a company page, for people reading the docs.

`python -m devkit.screenshots_registry [--out samples/screenshots]` builds the
same throwaway database as `devkit.screenshots` (the sample registry, the
corpus's issued forms, the sample mail read by one real mailbox pass), logs
in with Debian's chromium and saves:

- `register.png`: the search for a name written in capitals with å, at 1440x900;
- `register-company.png`: the page of the client most issued forms and submissions name,
  the whole page;
- `register-390.png`, `register-company-390.png`: the same on a 390 px wide phone screen.

It refuses to save a page that scrolls sideways at either width.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlmodel import Session, col, select

from devkit.screenshots import (
    VIEWPORT,
    cli,
    logged_in,
    prepare,
    shrink,
)
from kopplingar.context import AppContext
from registry import IssuedForm
from workqueue import SubmissionField

QUERY = "ÅBERG"


def busiest_client(ctx: AppContext) -> str:
    """The client that most issued forms and submissions name, both if any has both."""
    with Session(ctx.engine) as session:
        read = Counter(
            session.exec(
                select(SubmissionField.value).where(
                    col(SubmissionField.name) == "client_orgnr", col(SubmissionField.value) != ""
                )
            ).all()
        )
        issued = Counter(f.values.get("client_orgnr", "") for f in session.exec(select(IssuedForm)))
    named = {o for o in set(read) | set(issued) if o}
    scored = sorted(
        ((bool(read[o] and issued[o]), read[o] + issued[o], o) for o in named), reverse=True
    )
    if not scored:
        raise SystemExit("no submission or issued form names a client")
    return scored[0][2]


def shoot(ctx: AppContext, out: Path, chromium: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    orgnr = busiest_client(ctx)
    shots = [
        (f"/granskning/register?q={QUERY}", "register"),
        (f"/granskning/register/{orgnr}", "register-company"),
    ]
    written: list[Path] = []
    with logged_in(ctx, chromium) as (page, base):
        for path, name in shots:
            for width in (VIEWPORT["width"], 390):
                page.set_viewport_size({"width": width, "height": 900 if width > 390 else 844})
                page.goto(f"{base}{path}")
                page.wait_for_selector("h1")
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > width:
                    raise SystemExit(f"{path} is {scroll} px wide at {width} px")
                target = out / (f"{name}.png" if width > 390 else f"{name}-390.png")
                page.screenshot(path=str(target), full_page=name != "register" or width == 390)
                written.append(target)
    for target in written:
        shrink(target)
    return written


def main(argv: list[str] | None = None) -> None:
    def take(tmp: Path, out: Path, chromium: str) -> tuple[AppContext, list[Path]]:
        ctx, _, _ = prepare(tmp)
        return ctx, shoot(ctx, out, chromium)

    cli(__doc__, argv, take)


if __name__ == "__main__":
    main()
