"""Screenshots of the queue's due dates and of "Godkänn rena ärenden", for people reading the docs.

`python -m devkit.screenshots_bulk [--out samples/screenshots] [--all]`
builds a throwaway SQLite database with the sample registry and a queue put
together from it (no mailbox pass: the point is a queue with clean cases in
it, received over the last two weeks, and a few that are not clean: a
warning, an unsure field, a missing signature, one a colleague holds), then
logs in with Debian's chromium and saves, at 1440x900:

- `bulk.png`: the confirmation page, each clean submission with its plan;
- with `--all` (for looking at, not committed): `queue-due.png`, the queue
  overdue first with the "Senast" column and the overdue count, and
  `bulk-result.png`, the result after approving with one unticked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from devkit.screenshots import (
    CHROMIUM,
    COLLEAGUE,
    MAILBOX,
    ME,
    PASSWORD,
    SCREENSHOTS,
    logged_in,
    shrink,
)
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from registry import import_registry, make_engine
from review import claim, create_reviewer
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from workqueue import (
    ImageStore,
    NewField,
    NewFinding,
    NewSignature,
    NewSubmission,
    ReviewerRole,
    Submission,
    enqueue,
)

Values = dict[str, str]


def _cases() -> tuple[list[Values], list[Values]]:
    """Dual connections and disconnections the sample registry allows, one per client."""
    data: dict[str, list[dict[str, Any]]] = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    companies = {c["orgnr"]: c for c in data["companies"]}
    audit_firms = [c for c in data["companies"] if c["kind"] == "audit_firm"]
    duals: list[Values] = []
    disconnects: list[Values] = []
    for client in (c for c in data["companies"] if c["kind"] == "client"):
        subs = [s["number"] for s in data["subscriptions"] if s["orgnr"] == client["orgnr"]]
        live = [
            c for c in data["connections"] if c["client"] == client["orgnr"] and c["until"] is None
        ]
        accounting = [c for c in live if c["role"] == "accounting"]
        if len(subs) != 1 or len(accounting) != 1:
            continue
        firm = companies[accounting[0]["firm"]]
        base = {
            "client_name": client["name"],
            "client_orgnr": client["orgnr"],
            "client_subscription": subs[0],
        }
        if not any(c["role"] == "audit" for c in live) and len(duals) <= len(disconnects):
            taken = {c["firm"] for c in data["connections"] if c["client"] == client["orgnr"]}
            new = next(f for f in audit_firms if f["orgnr"] not in taken)
            duals.append(
                base
                | {
                    "current_firm_name": firm["name"],
                    "current_firm_orgnr": firm["orgnr"],
                    "current_firm_role": "accounting",
                    "new_firm_name": new["name"],
                    "new_firm_orgnr": new["orgnr"],
                    "new_firm_role": "audit",
                    "new_firm_email": "info@" + new["name"].split()[0].lower() + ".example.se",
                }
            )
        else:
            disconnects.append(
                base
                | {
                    "firm_name": firm["name"],
                    "firm_orgnr": firm["orgnr"],
                    "firm_role": "accounting",
                    "after": "takeover",
                }
            )
    return duals, disconnects


def _submit(
    session: Session,
    store: ImageStore,
    n: int,
    kind: str,
    values: Values,
    received: dt.datetime,
    *,
    unsure: str = "",
    findings: list[NewFinding] | None = None,
    unsigned: bool = False,
) -> int:
    parties = ("client", "new_firm") if kind == "dual" else ("client", "firm")
    submission = enqueue(
        session,
        store,
        NewSubmission(
            source_kind="file",
            source_name=f"skanning-{n}.pdf",
            source_sha256=hashlib.sha256(f"bulk {n}".encode()).hexdigest(),
            document_index=0,
            kind=kind,
            form_id=None,
            form_version="2026.1",
            quality_mm=0.2,
            pages=[],
            fields=[
                NewField(k, v, v, 0.41 if k == unsure else 0.93 + (n % 5) / 100)
                for k, v in values.items()
            ],
            signatures=[
                NewSignature(p, "empty" if unsigned and p == "client" else "signed", 0.05)
                for p in parties
            ],
            findings=findings or [],
        ),
    )
    session.flush()
    assert submission.id is not None
    session.exec(
        sa.update(Submission).where(col(Submission.id) == submission.id).values(created_at=received)
    )
    return submission.id


def prepare(root: Path) -> AppContext:
    engine = make_engine(f"sqlite:///{root / 'screenshots.db'}")
    upgrade_all(engine)
    store = ImageStore(root / "images")
    now = dt.datetime.now(dt.UTC)
    duals, disconnects = _cases()
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        create_reviewer(
            session, email=ME[0], name=ME[1], role=ReviewerRole.REVIEWER,
            password=PASSWORD, now=now,
        )  # fmt: skip
        colleague = create_reviewer(
            session, email=COLLEAGUE[0], name=COLLEAGUE[1], role=ReviewerRole.REVIEWER,
            password=PASSWORD, now=now,
        )  # fmt: skip
        cases = [("dual", v) for v in duals] + [("disconnect", v) for v in disconnects]
        cases.sort(key=lambda c: c[1]["client_orgnr"])
        held = None
        for n, (kind, values) in enumerate(cases):
            received = now - dt.timedelta(hours=2 + 9 * n)
            special: dict[str, Any] = {}
            if n % 6 == 1:
                special["findings"] = [
                    NewFinding(
                        "ocr.low_confidence", "warning", "Osäker läsning.", "client_subscription"
                    )
                ]
                special["unsure"] = "client_subscription"
            elif n % 6 == 4:
                special["unsigned"] = True
                special["findings"] = [
                    NewFinding("signature.missing", "blocking", "Klientens underskrift saknas.")
                ]
            sid = _submit(session, store, n, kind, values, received, **special)
            if n == 8:
                held = sid
        session.commit()
        if held is not None:
            claim(session, held, colleague, now=now)
            session.commit()
    return AppContext(
        engine=engine,
        qr_key=SAMPLE_QR_KEY,
        mailbox_address=MAILBOX,
        public_base_url="https://kopplingar.example.se",
        download_limit=1000,
        download_window_seconds=600,
        images_dir=root / "images",
        cookie_secure=False,  # plain http on loopback
    )


def shoot(ctx: AppContext, out: Path, chromium: str, *, every: bool) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "bulk.png"]
    with logged_in(ctx, chromium) as (page, base):
        if every:
            page.goto(f"{base}/granskning/?sort=overdue")
            page.wait_for_selector("table.queue")
            written.append(out / "queue-due.png")
            page.screenshot(path=str(written[-1]))
        page.goto(f"{base}/granskning/godkann-rena")
        page.wait_for_selector("#bulk-form")
        page.screenshot(path=str(written[0]))
        if every:
            page.locator("table.bulk input[type=checkbox]").nth(1).uncheck()
            page.click("#bulk-submit")
            page.wait_for_selector("#result")
            written.append(out / "bulk-result.png")
            page.screenshot(path=str(written[-1]))
    for path in written:
        shrink(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=SCREENSHOTS, help="folder for the PNGs")
    parser.add_argument("--chromium", default=CHROMIUM, help="the chromium executable")
    parser.add_argument("--all", action="store_true", help="also the pages only for looking at")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kopplingar-screenshots-") as tmp:
        ctx = prepare(Path(tmp))
        for path in shoot(ctx, args.out, args.chromium, every=args.all):
            print(f"{path}: {path.stat().st_size // 1024} KB")
        ctx.engine.dispose()


if __name__ == "__main__":
    main()
