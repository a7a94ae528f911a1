"""`kopplingar bench render`: how fast forms are made, in-process and over HTTP.

The baseline is reportlab putting the same strings on an A4 page with a
built-in font and nothing else: the floor any PDF form costs with this
library. Our figures beside it: rendering the full form (fonts, combs, QR,
fiducials), and issuing it (validate, record in the database, render). Over
HTTP, a real uvicorn server on loopback serves pre-filled downloads; the
baseline is the same server answering /healthz.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import httpx
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from forms import FormKind, clean_values, form_spec, new_form_id, sign_payload
from kopplingar.app import create_app
from kopplingar.benchmarks.common import Timing, table, time_each
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.serving import serve_in_thread
from registry import import_registry, make_engine
from render import issue_form, render_form_pdf
from samples import REGISTRY_JSON

BENCH_KEY = b"bench-only-key-not-used-for-real-forms-0123456789"
MAILBOX = "kopplingar@example.se"


def sample_value_sets(count: int) -> list[tuple[FormKind, dict[str, str]]]:
    """Realistic value sets from the sample registry, alternating the two kinds."""
    data = json.loads(REGISTRY_JSON.read_text(encoding="utf-8"))
    companies = {c["orgnr"]: c for c in data["companies"]}
    subs = {s["orgnr"]: s["number"] for s in data["subscriptions"]}
    firms = [c for c in data["companies"] if c["kind"] == "accounting_firm"]
    open_conns = [c for c in data["connections"] if not c.get("until") and c["client"] in subs]
    role_of = {"accounting_firm": "accounting", "audit_firm": "audit"}
    out: list[tuple[FormKind, dict[str, str]]] = []
    i = 0
    while len(out) < count:
        conn = open_conns[i % len(open_conns)]
        client, firm = companies[conn["client"]], companies[conn["firm"]]
        base = {
            "client_name": client["name"],
            "client_orgnr": client["orgnr"],
            "client_subscription": subs[client["orgnr"]],
        }
        if i % 2 == 0:
            taken = {firm["orgnr"], client["orgnr"]}
            new = next(f for f in firms[i % len(firms) :] + firms if f["orgnr"] not in taken)
            out.append(
                (
                    FormKind.DUAL,
                    base
                    | {
                        "current_firm_name": firm["name"],
                        "current_firm_orgnr": firm["orgnr"],
                        "current_firm_role": role_of[firm["kind"]],
                        "new_firm_name": new["name"],
                        "new_firm_orgnr": new["orgnr"],
                        "new_firm_role": "accounting",
                        "new_firm_email": "admin@byran.example.se",
                        "client_signatory_name": "Anna Lindqvist",
                        "client_signatory_role": "firmatecknare",
                    },
                )
            )
        else:
            out.append(
                (
                    FormKind.DISCONNECT,
                    base
                    | {
                        "firm_name": firm["name"],
                        "firm_orgnr": firm["orgnr"],
                        "firm_role": role_of[firm["kind"]],
                        "after": "takeover",
                        "firm_signatory_name": "Per Holm",
                    },
                )
            )
        i += 1
    return out


def _baseline_page(values: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    y = 800.0
    for key, value in values.items():
        c.drawString(60, y, f"{key}: {value}")
        y -= 16
    c.showPage()
    c.save()
    return buf.getvalue()


def run(count: int, http_requests: int) -> str:
    sets = sample_value_sets(count)
    cleaned = [(kind, clean_values(kind, values)) for kind, values in sets]
    baseline = time_each(
        "baseline: reportlab page, same text", cleaned, lambda kv: _baseline_page(kv[1])
    )

    def render_one(item: tuple[FormKind, dict[str, str]]) -> bytes:
        kind, values = item
        spec = form_spec(kind)
        payload = sign_payload(BENCH_KEY, kind.code, spec.version, new_form_id())
        return render_form_pdf(spec, values, mailbox=MAILBOX, payload=payload)

    rendered = time_each("render_form_pdf, pre-filled", cleaned, render_one)

    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade_all(engine)  # the download limit is counted in the queue's tables
        with Session(engine) as session:
            import_registry(session, REGISTRY_JSON)
            session.commit()

        def issue_one(item: tuple[FormKind, dict[str, str]]) -> None:
            kind, values = item
            with Session(engine) as session:
                issue_form(session, kind, values, qr_key=BENCH_KEY, mailbox=MAILBOX, source="bench")
                session.commit()

        issued = time_each("issue_form (check+record+render, SQLite)", sets, issue_one)

        ctx = AppContext(
            engine=engine,
            qr_key=BENCH_KEY,
            mailbox_address=MAILBOX,
            public_base_url="http://127.0.0.1",
            download_limit=10**9,
            download_window_seconds=1,
        )
        slugs = {FormKind.DUAL: "dubbelsammankoppling", FormKind.DISCONNECT: "bortkoppling"}
        with (
            serve_in_thread(create_app(ctx)) as base,
            httpx.Client(base_url=base, timeout=30) as client,
        ):
            client.get("/healthz")
            http_sets = sets[:http_requests]

            def download(item: tuple[FormKind, dict[str, str]]) -> None:
                kind, values = item
                r = client.post(f"/blankett/{slugs[kind]}", data=values)
                if r.status_code != 200 or r.headers["content-type"] != "application/pdf":
                    raise RuntimeError(f"download failed: {r.status_code} {r.text[:200]}")

            def health(_item: tuple[FormKind, dict[str, str]]) -> None:
                client.get("/healthz").raise_for_status()

            http_base = time_each("baseline: HTTP GET /healthz, same server", http_sets, health)
            http = time_each("HTTP POST pre-filled download", http_sets, download)
        engine.dispose()

    n_dual = sum(1 for k, _ in sets if k is FormKind.DUAL)
    ratio = rendered.total / baseline.total
    lines = [
        f"kopplingar bench render: {count} pre-filled forms ({n_dual} dual, "
        f"{count - n_dual} disconnect), one process",
        table([baseline, rendered, issued]),
        f"full form costs {ratio:.1f}x the bare reportlab page",
        "",
        f"HTTP on loopback, {http_requests} sequential requests, uvicorn + SQLite",
        table([http_base, http], rate=False),
    ]
    return "\n".join(lines)


__all__ = ["Timing", "run", "sample_value_sets"]
