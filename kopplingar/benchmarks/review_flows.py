"""`kopplingar bench review`, the decisions: server time and keystrokes per submission.

On the same seeded queue and server as the page timings (`benchmarks.review`),
four ways a reviewer decides are carried out for real and timed over HTTP:

* a clean approval: one POST `/godkann`;
* one correction: the reader's doubt about one field (its value misread and
  its confidence low, written into a clean submission), the correction POSTed
  as the page's Enter does (`/rattelse`), then the approval;
* an override: a submission whose only blocking finding is a missing
  signature, approved with a preset reason (under four eyes it then waits);
* bulk approval of 20: the clean submissions `/godkann-rena` lists (a page
  at a time), all chosen; the server time is the POSTs' divided by the
  approvals they made.

Each POST must answer as the page expects (303, or 200 for the bulk result)
and the database must say the decision happened, or the run fails.

The keystrokes are counted in Debian's chromium (when it is installed) by
doing the same on the real pages with the keyboard only, and checking the
result in the database. Beside each count stands the previous page's (every
field in one table, `e` to the first field, Tab to the one to correct and
on to "Spara rättelser", a reason typed out), counted from the same
submission's layout.
"""

from __future__ import annotations

import html
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from kopplingar.errors import CliError
from review.decide import OVERRIDE_PRESETS
from workqueue import (
    OverrideRequest,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionStatus,
)

CHROMIUM = "/usr/bin/chromium"
BULK = 20
SINGLE = 8  # submissions timed per single-decision flow
_HIDDEN = re.compile(r'<input type="hidden" name="([A-Za-z0-9_]+)" value="([^"]*)">')
_PICK = re.compile(r'<input type="checkbox" name="(v\d+)" value="1"')
DONE = (SubmissionStatus.APPROVED, SubmissionStatus.APPLIED)


class FlowError(CliError):
    """A decision did not happen as the page promised."""

    exit_code = os.EX_SOFTWARE


@dataclass(frozen=True)
class Flow:
    label: str
    server_ms: float  # median per submission
    n: int


def _hidden(page: str) -> dict[str, str]:
    return {n: html.unescape(v) for n, v in _HIDDEN.findall(page)}


def _post(client: httpx.Client, url: str, data: dict[str, str], ok: int = 303) -> float:
    start = time.perf_counter()
    response = client.post(url, data=data)
    seconds = time.perf_counter() - start
    if response.status_code != ok:
        said = re.search(r'id="error">([^<]*)<', response.text)
        raise FlowError(f"POST {url}: {response.status_code} "
                        f"{html.unescape(said.group(1)) if said else response.text[:200]}")
    return seconds


def _status(engine: Engine, sid: int) -> SubmissionStatus:
    with Session(engine) as session:
        found = session.get(Submission, sid)
        assert found is not None
        return found.status


def _listed_clean(client: httpx.Client) -> tuple[str, list[int]]:
    page = client.get("/granskning/godkann-rena")
    if page.status_code != 200:
        raise FlowError(f"GET /granskning/godkann-rena: {page.status_code}")
    return page.text, [int(n[1:]) for n in _PICK.findall(page.text)]


def doubt_a_field(engine: Engine, sid: int) -> tuple[str, str]:
    """Make one field of `sid` read wrong and unsure, as OCR does; its name and true value."""
    with Session(engine) as session:
        row = session.exec(select(SubmissionField).where(
            col(SubmissionField.submission_id) == sid,
            col(SubmissionField.name) == "client_name")).one()
        truth = row.value
        row.value = truth[:-2] + ("l1" if not truth.endswith("l1") else "Il")
        row.confidence = 0.41
        session.add(row)
        submission = session.get(Submission, sid)
        assert submission is not None
        submission.min_confidence = 0.41
        session.add(submission)
        session.commit()
    return "client_name", truth


def override_cases(engine: Engine, count: int) -> list[int]:
    """Queued submissions whose only finding above info is one missing signature."""
    with Session(engine) as session:
        rows = session.exec(
            select(Submission.id).where(col(Submission.status) == SubmissionStatus.QUEUED,
                                        col(Submission.blocking_findings) == 1,
                                        col(Submission.warning_findings) == 0)
            .order_by(col(Submission.id)).limit(count * 20)).all()
        out = []
        for sid in rows:
            codes = session.exec(select(SubmissionFinding.code).where(
                col(SubmissionFinding.submission_id) == sid,
                col(SubmissionFinding.severity) == "blocking")).all()
            if list(codes) == ["signature.missing"] and sid is not None:
                out.append(sid)
            if len(out) == count:
                break
    return out


def server_flows(client: httpx.Client, engine: Engine) -> tuple[list[Flow], list[int]]:
    """Time every flow over HTTP; returns the flows and clean ids left for the browser."""
    def next_clean() -> int:
        _, clean = _listed_clean(client)
        if not clean:
            raise FlowError("the seeded queue has no clean submission left (seed more)")
        return clean[0]

    csrf = _hidden(client.get("/granskning/godkann-rena").text)
    flows = []

    seconds = []
    for _ in range(SINGLE):
        sid = next_clean()
        seconds.append(_post(client, f"/granskning/{sid}/godkann", csrf))
        if _status(engine, sid) not in DONE:
            raise FlowError(f"submission {sid} was not approved")
    flows.append(Flow("clean approval", median(seconds) * 1000, len(seconds)))

    seconds = []
    for _ in range(SINGLE):
        sid = next_clean()
        name, truth = doubt_a_field(engine, sid)
        form = _hidden(client.get(f"/granskning/{sid}").text)
        spent = _post(client, f"/granskning/{sid}/rattelse", form | {f"falt.{name}": truth})
        spent += _post(client, f"/granskning/{sid}/godkann", csrf)
        if _status(engine, sid) not in DONE:
            raise FlowError(f"submission {sid} was not approved after its correction")
        seconds.append(spent)
    flows.append(Flow("one correction, then approval", median(seconds) * 1000, len(seconds)))

    seconds = []
    for sid in override_cases(engine, SINGLE):
        seconds.append(_post(client, f"/granskning/{sid}/godkann",
                             csrf | {"override_preset": "1"}))
    if not seconds:
        raise FlowError("the seeded queue has no submission to override")
    flows.append(Flow("override with a preset reason", median(seconds) * 1000, len(seconds)))

    # Page by page (the page lists BULK_LIMIT) until BULK are chosen, each page listed
    # afresh: the approvals before may have made some of an earlier list unclean.
    chosen_all: list[int] = []
    spent = 0.0
    while len(chosen_all) < BULK:
        page, listed = _listed_clean(client)
        chosen = [sid for sid in listed if sid not in chosen_all][:BULK - len(chosen_all)]
        if not chosen:
            break
        form = _hidden(page) | {f"v{sid}": "1" for sid in chosen}
        spent += _post(client, "/granskning/godkann-rena", form, ok=200)
        chosen_all += chosen
    approved = sum(_status(engine, sid) in DONE for sid in chosen_all)
    # One may be skipped, rightly: two forms for the same client and firm, the first
    # approved, leave the second nothing to do. Every skip is checked again on the server.
    if approved < len(chosen_all) // 2:
        raise FlowError(f"bulk approval approved only {approved} of {len(chosen_all)}")
    flows.append(Flow(f"bulk approval of {approved}", spent * 1000 / approved, approved))
    _, still_clean = _listed_clean(client)  # for the browser: none decided yet
    return flows, still_clean


def keystrokes(base: str, engine: Engine, email: str, password: str, clean: list[int],
               chromium: str = CHROMIUM) -> dict[str, tuple[int, int]] | str:
    """Keys pressed in chromium per flow and the previous page's count, or why not counted."""
    if not Path(chromium).exists():
        return f"{chromium} is not installed"
    if len(clean) < 2:
        return "too few clean submissions left in the seeded queue (seed more with --count)"
    from playwright.sync_api import sync_playwright

    out: dict[str, tuple[int, int]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/granskning/")
            page.fill("#email", email)
            page.fill("#password", password)
            page.press("#password", "Enter")
            page.wait_for_load_state("networkidle")

            def press(*keys: str) -> int:
                for key in keys:
                    page.keyboard.press(key)
                return len(keys)

            def settle() -> None:
                page.wait_for_load_state("networkidle")

            # A clean approval: "a", Enter (the same two keys as before).
            page.goto(f"{base}/granskning/{clean[0]}")
            keys = press("a", "Enter")
            settle()
            if _status(engine, clean[0]) not in DONE:
                raise FlowError("chromium: the clean approval did not happen")
            out["clean approval"] = (keys, 2)

            # One correction: "e" to the field in doubt, type, Enter, then "a", Enter.
            sid = clean[1]
            name, truth = doubt_a_field(engine, sid)
            page.goto(f"{base}/granskning/{sid}")
            keys = press("e")
            page.keyboard.type(truth)
            keys += len(truth) + press("Enter")
            focused_plan = False
            for _ in range(200):  # the save runs in the background; the focus says it is done
                if page.evaluate("document.activeElement && document.activeElement.id") \
                        == "plan-title":
                    focused_plan = True
                    break
                page.wait_for_timeout(25)
            if not focused_plan:
                at_now = page.evaluate("document.activeElement && document.activeElement.id")
                left = page.locator("#check-list").inner_text() if page.locator(
                    "#check-list").count() else ""
                error = page.locator("#error").inner_text() if page.locator(
                    "#error").count() else ""
                raise FlowError("chromium: Enter did not save the correction and move on "
                                f"(focus on {at_now!r}; still to check: {left[:300]!r}; "
                                f"error: {error!r}; input: " + str(page.evaluate(
                                    "[document.activeElement.readOnly, "
                                    "document.activeElement.value, document.title]")) + ")")
            keys += press("a", "Enter")
            settle()
            if _status(engine, sid) not in DONE:
                raise FlowError("chromium: the corrected submission was not approved")
            with Session(engine) as session:
                inputs = session.exec(select(SubmissionField.name).where(
                    col(SubmissionField.submission_id) == sid).order_by(
                    col(SubmissionField.id))).all()
            at = list(inputs).index(name)
            # Before: e to the first field, Tab to this one, select it, type, Tab past the
            # rest to "Spara rättelser", Enter, then a, Enter.
            before = 1 + at + 1 + len(truth) + (len(inputs) - at) + 1 + 2
            out["one correction, then approval"] = (keys, before)

            # An override: "a", a preset's number, Enter.
            cases = override_cases(engine, 1)
            if cases:
                page.goto(f"{base}/granskning/{cases[0]}")
                keys = press("a", "1", "Enter")
                settle()
                if _status(engine, cases[0]) not in DONE and not _override_asked(engine,
                                                                                cases[0]):
                    raise FlowError("chromium: the override was not recorded")
                # Before: a, the reason typed out, Tab, Enter.
                out["override with a preset reason"] = (keys, 1 + len(OVERRIDE_PRESETS[0]) + 2)

            # Bulk: Tab to the first "Godkänn de valda", Enter; before: two keys each.
            page.goto(f"{base}/granskning/godkann-rena")
            listed = page.locator("input[type=checkbox][name^=v]").count()
            if listed:
                keys = 0
                while page.evaluate("document.activeElement && document.activeElement.id")\
                        != "bulk-submit-top" and keys < 200:
                    keys += press("Tab")
                keys += press("Enter")
                settle()
                out[f"bulk approval of {listed}"] = (keys, 2 * listed)
        finally:
            browser.close()
    return out


def _override_asked(engine: Engine, sid: int) -> bool:
    with Session(engine) as session:
        return session.exec(select(OverrideRequest).where(
            col(OverrideRequest.submission_id) == sid)).first() is not None


def report(flows: list[Flow], keys: dict[str, tuple[int, int]] | str | None) -> str:
    width = max(len(f.label) for f in flows) + 2
    lines = [f"{'server time':{width}}{'n':>4}{'median ms':>11}"]
    lines += [f"{f.label:{width}}{f.n:4d}{f.server_ms:11.1f}" for f in flows]
    if keys is None:
        return "\n".join(lines)  # counted on SQLite only: they do not depend on the database
    if isinstance(keys, str):
        lines.append(f"keystrokes not counted: {keys}")
        return "\n".join(lines)
    width = max(len(k) for k in keys) + 2
    lines += ["", f"{'keystrokes, keyboard only':{width}}{'ours':>6}{'before':>8}"]
    lines += [f"{label:{width}}{ours:6d}{before:8d}" for label, (ours, before) in keys.items()]
    return "\n".join(lines)
