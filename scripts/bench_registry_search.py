"""How fast the registry search and the company page are on a registry of 100,000 companies.

Fills a new database (a temporary SQLite file, and PostgreSQL when a server
URL is given) with a registry of realistic size: companies with Swedish
names, a subscription each, people with roles, connections, payers, issued
forms, and a queue of submissions naming those companies
(`kopplingar.benchmarks.seed`). It then times, through the real app and a
logged-in reviewer, the search page for each kind of query and the company
page, and prints p50 and p95 per kind, and the same for the search function
alone. The issue's bar for a page is a p95 of 60 ms.

    .venv/bin/python scripts/bench_registry_search.py \
        --postgresql postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from forms import luhn_check_digit, make_subscription_number, new_form_id
from kopplingar.app import create_app
from kopplingar.benchmarks.review import fresh_postgresql
from kopplingar.benchmarks.seed import seed_queue
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from registry import (
    Company,
    Connection,
    IssuedForm,
    Person,
    Role,
    Subscription,
    SubscriptionPayer,
    make_engine,
    search_registry,
)
from review.auth import AuthPolicy, hash_password
from workqueue import ImageStore, Reviewer, ReviewerRole

PASSWORD = "Mät registret noga 2026"
FIRST = ("Åkes", "Ängs", "Örebro", "Bergs", "Tall", "Gran", "Lind", "Björk", "Sjö", "Älv",
         "Norr", "Söder", "Väster", "Öster", "Hjort", "Kvarn", "Dal", "Ek", "Ström", "Fjäll",
         "Lärk", "Rönn", "Hav", "Myr", "Skogs", "Åker", "Ängens", "Bäck", "Strand", "Holm")
SECOND = ("bageri", "bygg", "café", "el", "måleri", "redovisning", "revision", "åkeri",
          "städ", "frisör", "trädgård", "konsult", "snickeri", "rör", "data", "hundtrim",
          "transport", "fastigheter", "mekaniska", "blommor")
FORM = ("AB", "HB", "Handelsbolag", "& Söner AB", "Ekonomisk förening", "AB")
GIVEN = ("Anna", "Åsa", "Örjan", "Björn", "Märta", "Lars", "Eva", "Per", "Sören", "Ylva",
         "Göran", "Karin", "Jörgen", "Lena", "Håkan", "Maja", "Nils", "Elin", "Åke", "Stina")
FAMILY = ("Berg", "Åström", "Öberg", "Lindén", "Sjöberg", "Hjort", "Tallbäck", "Ek",
          "Nyström", "Källström", "Ahl", "Holm", "Dahl", "Wik", "Lundqvist")  # fmt: skip


def orgnr(serial: int) -> str:
    digits = f"556{serial:06d}"
    digits += luhn_check_digit(digits)
    return f"{digits[:6]}-{digits[6:]}"


def _insert(engine: Engine, model: Any, rows: list[dict[str, Any]]) -> None:
    table = model.__table__
    with engine.begin() as connection:
        for start in range(0, len(rows), 5000):
            connection.execute(table.insert(), rows[start : start + 5000])


def seed_registry(engine: Engine, companies: int, rng: random.Random) -> list[str]:
    """The registry's rows; the organisationsnummer of every company, in id order."""
    numbers = [orgnr(n + 1) for n in range(companies)]
    firms = max(1, companies // 20)
    rows = []
    for n, number in enumerate(numbers):
        kind = "client" if n >= firms else ("audit_firm" if n % 3 == 0 else "accounting_firm")
        name = f"{rng.choice(FIRST)}{rng.choice(SECOND)} {n} {rng.choice(FORM)}"
        rows.append({"id": n + 1, "orgnr": number, "name": name, "kind": kind})
    _insert(engine, Company, rows)
    _insert(engine, Subscription, [
        {"id": n + 1, "number": make_subscription_number(n + 1), "company_id": n + 1}
        for n in range(companies)
    ])  # fmt: skip
    people = companies * 6 // 10
    _insert(engine, Person, [
        {"id": n + 1, "name": f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}",
         "email": f"person{n + 1}@foretag{(n % companies) + 1}.example", "personnummer": None}
        for n in range(people)
    ])  # fmt: skip
    roles = {(1 + (n % people), 1 + rng.randrange(companies)) for n in range(companies)}
    _insert(engine, Role, [
        {"person_id": p, "company_id": c, "role": rng.choice(("sysadmin", "firmatecknare"))}
        for p, c in sorted(roles)
    ])  # fmt: skip
    since = dt.date(2020, 1, 1)
    connections = []
    payers = []
    for client in range(firms + 1, companies + 1):
        firm = 1 + rng.randrange(firms)
        ended = rng.random() < 0.2
        connections.append({
            "client_id": client, "firm_id": firm, "role": "accounting", "since": since,
            "until": dt.date(2023, 6, 30) if ended else None,
        })  # fmt: skip
        if rng.random() < 0.3:
            payers.append({"subscription_id": client, "payer_id": firm, "valid_from": since,
                           "recorded_at": dt.datetime.now(dt.UTC)})  # fmt: skip
    _insert(engine, Connection, connections)
    _insert(engine, SubscriptionPayer, payers)
    now = dt.datetime.now(dt.UTC)
    _insert(engine, IssuedForm, [
        {"id": new_form_id(), "kind": "dual", "version": "2026.1",
         "values": {"client_orgnr": rng.choice(numbers), "current_firm_orgnr": numbers[n % firms],
                    "new_firm_orgnr": numbers[(n + 1) % firms]},
         "signatories": {}, "source": "bench", "created_at": now - dt.timedelta(minutes=n),
         "submitted_at": None}
        for n in range(companies)
    ])  # fmt: skip
    return numbers


def seed_submissions(
    engine: Engine, store: ImageStore, count: int, numbers: list[str], rng: random.Random
) -> None:
    firms = max(1, len(numbers) // 20)
    values = [
        {"client_orgnr": rng.choice(numbers), "current_firm_orgnr": numbers[n % firms],
         "new_firm_orgnr": numbers[(n + 7) % firms], "firm_orgnr": numbers[n % firms]}
        for n in range(5000)
    ]  # fmt: skip
    for start in range(0, count, 10_000):
        seed_queue(engine, store, min(10_000, count - start), seed=start, sample_values=values)


def log_in(client: TestClient, email: str) -> None:
    page = client.get("/granskning/logga-in")
    token = re.search(r'name="login_token" value="([^"]+)"', page.text)
    assert token is not None, page.text
    done = client.post(
        "/granskning/logga-in",
        data={"login_token": token.group(1), "email": email, "password": PASSWORD, "next": ""},
    )
    assert done.status_code == 303, done.text


def timed(action: Callable[[], object], runs: int) -> tuple[float, float]:
    action()  # warm: the first call compiles statements and fills caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-search-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


# Not in the migrations: what the company page's submission list would use (see the report).
PROPOSED_INDEXES = (
    "CREATE INDEX ix_bench_submission_fields_value ON submission_fields (value)",
    # Partial: nearly every row has none, and SQLite's planner, seeing one value (NULL) in
    # the whole column after ANALYZE, scans the table rather than use a full index.
    "CREATE INDEX ix_bench_submission_fields_corrected ON submission_fields (corrected_value) "
    "WHERE corrected_value IS NOT NULL",
)


def measure(
    url: str, companies: int, submissions: int, runs: int, *, proposed: bool = False
) -> list[str]:
    rng = random.Random(13)
    engine = make_engine(url)
    upgrade_all(engine)
    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-images-") as tmp:
        store = ImageStore(Path(tmp))
        started = time.perf_counter()
        numbers = seed_registry(engine, companies, rng)
        seed_submissions(engine, store, submissions, numbers, rng)
        seeded = time.perf_counter() - started
        with Session(engine) as session:
            session.add(Reviewer(
                email="bench@backoffice.example", name="Bench", role=ReviewerRole.REVIEWER,
                password_hash=hash_password(PASSWORD), created_at=dt.datetime.now(dt.UTC),
                password_changed_at=dt.datetime.now(dt.UTC),
            ))  # fmt: skip
            session.commit()
        with engine.begin() as connection:
            for statement in PROPOSED_INDEXES if proposed else ():
                connection.execute(sa.text(statement))
            connection.execute(sa.text("ANALYZE"))
        app = create_app(AppContext(
            engine=engine, qr_key=b"bench-key-0123456789abcdef0123456789", mailbox_address="k@x.se",
            public_base_url="http://testserver", download_limit=1000,
            download_window_seconds=600, images_dir=store.root, auth_policy=AuthPolicy(),
        ))  # fmt: skip
        client = TestClient(app, base_url="http://testserver", follow_redirects=False)
        log_in(client, "bench@backoffice.example")

        def page(path: str, params: dict[str, str] | None = None) -> None:
            response = client.get(path, params=params)
            # 200, or 303 for a whole number that goes straight to its company.
            assert response.status_code in (200, 303), (path, params, response.status_code)

        def email() -> str:
            n = 1 + rng.randrange(companies // 2)
            return f"person{n}@foretag{n}.example"

        queries: dict[str, Callable[[], str]] = {
            "orgnr, exact (redirect)": lambda: numbers[rng.randrange(companies)].replace("-", ""),
            "orgnr, first 6 digits": lambda: numbers[rng.randrange(companies)][:6],
            "subscription, exact": lambda: make_subscription_number(1 + rng.randrange(companies)),
            "name, common word": lambda: rng.choice(SECOND),
            "name, rare (word + number)": lambda: f"{rng.choice(SECOND)} {rng.randrange(9999)}",
            "name with å ä ö, capitals": lambda: rng.choice(FIRST).upper(),
            "person, e-mail exact": email,
            "person, e-mail part": lambda: f"@foretag{rng.randrange(companies)}.",
            "no match": lambda: "qqqxyz",
        }
        lines = [f"{engine.dialect.name}: {companies:,} companies, {submissions:,} submissions "
                 f"(seeded in {seeded:.0f} s), {runs} runs each"
                 f"{', with the proposed indexes' if proposed else ''}"]  # fmt: skip
        lines.append(f"  {'query':32} {'function p50/p95':>18} {'page p50/p95':>16}")
        for label, make in queries.items():
            with Session(engine) as session:
                f50, f95 = timed(lambda: search_registry(session, make()), runs)  # noqa: B023
            p50, p95 = timed(lambda: page("/granskning/register", {"q": make()}), runs)  # noqa: B023
            lines.append(f"  {label:32} {f50:7.1f} / {f95:5.1f} ms {p50:6.1f} / {p95:5.1f} ms")
        firm_share = max(1, companies // 20)
        pages: dict[str, Callable[[], str]] = {
            "company page, client": lambda: numbers[firm_share + rng.randrange(companies // 2)],
            "company page, firm": lambda: numbers[rng.randrange(firm_share)],
        }
        for label, pick in pages.items():
            p50, p95 = timed(lambda: page(f"/granskning/register/{pick()}"), runs)  # noqa: B023
            lines.append(f"  {label:32} {'':>18} {p50:6.1f} / {p95:5.1f} ms")
    engine.dispose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=100_000)
    parser.add_argument("--submissions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--postgresql", help="admin URL of a PostgreSQL server, e.g. "
                        "postgresql://postgres@127.0.0.1:5432/test")  # fmt: skip
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--proposed-indexes", action="store_true",
                        help="add the indexes the report proposes (not in the migrations)")
    args = parser.parse_args()
    extra = {"proposed": args.proposed_indexes}
    if not args.no_sqlite:
        with sqlite_url() as url:
            print("\n".join(measure(url, args.companies, args.submissions, args.runs, **extra)),
                  flush=True)
    if args.postgresql:
        with fresh_postgresql(args.postgresql) as url:
            print("\n".join(measure(url, args.companies, args.submissions, args.runs, **extra)),
                  flush=True)


if __name__ == "__main__":
    main()
