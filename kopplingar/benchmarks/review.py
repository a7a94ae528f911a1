"""`kopplingar bench review`: the reviewer pages over HTTP with a queue of realistic size.

Each database (SQLite in a temporary directory, and PostgreSQL in a fresh
database of its own when a server answers) is migrated, given the sample
registry, one reviewer and `count` seeded submissions whose values come from
that registry, so the detail page's registry lookups find real companies.
A real uvicorn server on loopback then answers sequential GETs from a
logged-in reviewer: the queue in several variants (the default order, least
sure first, a filter by finding, and a keyset page deep in the list reached
by following "Nästa sida") and the detail page of random queued
submissions, and the back office's pages (overdue first, the clean ones to
approve together, duplicates, statistics, the outbox, the audit log, a
registry search). A GET never claims, so every request can be repeated. The
baseline is the same server answering /healthz. Then the decisions are made
for real (`benchmarks.review_flows`): server time per submission and, on
SQLite, the keystrokes in chromium.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import random
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from kopplingar.app import create_app
from kopplingar.benchmarks.common import Timing, table, time_each
from kopplingar.benchmarks.render import sample_value_sets
from kopplingar.benchmarks.review_flows import Flow, keystrokes, server_flows
from kopplingar.benchmarks.review_flows import report as flow_report
from kopplingar.benchmarks.seed import seed_queue
from kopplingar.context import AppContext
from kopplingar.database import upgrade_all
from kopplingar.errors import CliError
from kopplingar.serving import serve_in_thread
from registry import import_registry, make_engine
from review import create_reviewer
from samples import REGISTRY_JSON
from workqueue import ImageStore, ReviewerRole, Submission

BENCH_KEY = b"bench-only-key-not-used-for-real-forms-0123456789"
MAILBOX = "kopplingar@example.se"
REVIEWER_EMAIL = "granskare@backoffice.example"
# Meets the password policy; the account lives only in the benchmark's own database.
REVIEWER_PASSWORD = "Sju sorters kakor i ugnen"
DEFAULT_POSTGRESQL = "postgresql://postgres@127.0.0.1:5432/test"
FINDING = "signature.missing"
NAMES = ("revision", "Bokföring", "Sundsvall", "Göteborg", "ab")  # registry searches
DEEP_PAGES = 100  # "Nästa sida" followed this often, or until the list ends

_HIDDEN = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')
_NEXT = re.compile(r'<a href="([^"]*)" rel="next" id="next-page">')


class BenchmarkError(CliError):
    """A page answered something other than 200, or the login did not work."""

    exit_code = os.EX_SOFTWARE


class DatabaseUnreachableError(CliError):
    """The PostgreSQL server asked for by --postgresql does not answer."""

    exit_code = os.EX_TEMPFAIL


@dataclass(frozen=True)
class DatabaseResult:
    name: str
    queued: int
    seed_seconds: float
    deep_page: int
    timings: list[Timing]
    flows: list[Flow] = field(default_factory=list)
    keys: dict[str, tuple[int, int]] | str | None = None  # str: why not counted


def postgresql_answers(url: str) -> bool:
    """Whether a PostgreSQL server at `url` takes a connection (the default is optional)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="kopplingar-bench-review-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'bench.db'}"


@contextmanager
def fresh_postgresql(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards."""
    admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
    name = f"kopplingar_bench_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.engine.dispose()
        raise DatabaseUnreachableError(
            f"PostgreSQL at {admin_url} does not answer: {exc.orig}"
        ) from exc
    try:
        yield admin.engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE: a failed run may leave the server thread's pool connected.
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.engine.dispose()


def _get(client: httpx.Client, url: str, params: dict[str, str] | None = None) -> httpx.Response:
    response = client.get(url, params=params)
    if response.status_code != 200:
        raise BenchmarkError(f"GET {url} {params or ''}: {response.status_code}")
    return response


def log_in(client: httpx.Client, email: str, password: str) -> None:
    """Log in through the form, as a browser does; the client keeps the session cookie."""
    page = _get(client, "/granskning/logga-in")
    data = {name: html.unescape(value) for name, value in _HIDDEN.findall(page.text)}
    response = client.post(
        "/granskning/logga-in", data=data | {"email": email, "password": password}
    )
    if response.status_code != 303 or "granskning" not in client.cookies:
        raise BenchmarkError(f"login failed: {response.status_code} {response.text[:200]}")


def deep_page(client: httpx.Client, params: dict[str, str], pages: int) -> tuple[str, int]:
    """The URL of the queue page reached by following "Nästa sida" up to `pages` times."""
    url = "/granskning/"
    number = 1
    response = _get(client, url, params)
    for _ in range(pages):
        found = _NEXT.search(response.text)
        if not found:
            break
        url = html.unescape(found.group(1))
        number += 1
        response = _get(client, url)
    return url, number


def _prepare(engine: Engine, images: ImageStore, count: int) -> tuple[float, list[int]]:
    """Migrate, import the registry, add the reviewer, seed; seconds seeding, queued ids."""
    upgrade_all(engine)
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        create_reviewer(
            session,
            email=REVIEWER_EMAIL,
            name="Bänk Granskare",
            role=ReviewerRole.REVIEWER,
            password=REVIEWER_PASSWORD,
            now=dt.datetime.now(dt.UTC),
        )
        session.commit()
    values = [v for _, v in sample_value_sets(min(count, 200))]
    start = time.perf_counter()
    seed_queue(engine, images, count, sample_values=values)
    seconds = time.perf_counter() - start
    with Session(engine) as session:
        queued = session.exec(select(Submission.id).where(col(Submission.status) == "queued")).all()
    return seconds, [i for i in queued if i is not None]


def measure(url: str, name: str, count: int, requests: int, *, seed: int = 7,
            browser: bool = False) -> DatabaseResult:
    """Seed the database at `url` and time the reviewer pages on it."""
    rng = random.Random(seed)
    engine = make_engine(url)
    try:
        with tempfile.TemporaryDirectory(prefix="kopplingar-bench-images-") as tmp:
            images = ImageStore(Path(tmp))
            seed_seconds, queued = _prepare(engine, images, count)
            if not queued:
                raise BenchmarkError("the seeded queue has no queued submission")
            ctx = AppContext(
                engine=engine,
                qr_key=BENCH_KEY,
                mailbox_address=MAILBOX,
                public_base_url="http://127.0.0.1",
                download_limit=10**9,
                download_window_seconds=1,
                images_dir=images.root,
            )
            with (
                serve_in_thread(create_app(ctx)) as base,
                httpx.Client(base_url=base, timeout=60) as client,
            ):
                log_in(client, REVIEWER_EMAIL, REVIEWER_PASSWORD)
                deep_oldest, page_oldest = deep_page(client, {}, DEEP_PAGES)
                deep_sure, page_sure = deep_page(client, {"sort": "confidence"}, DEEP_PAGES)
                details = [rng.choice(queued) for _ in range(requests)]
                rows: list[tuple[str, Callable[[int], object]]] = [
                    ("baseline: GET /healthz, same server", lambda _: _get(client, "/healthz")),
                    ("queue, oldest first", lambda _: _get(client, "/granskning/")),
                    (
                        "queue, least sure first",
                        lambda _: _get(client, "/granskning/", {"sort": "confidence"}),
                    ),
                    (
                        f"queue, finding {FINDING}",
                        lambda _: _get(client, "/granskning/", {"finding": FINDING}),
                    ),
                    (f"queue, page {page_oldest}, oldest", lambda _: _get(client, deep_oldest)),
                    (f"queue, page {page_sure}, least sure", lambda _: _get(client, deep_sure)),
                    (
                        "detail, random queued submission",
                        lambda i: _get(client, f"/granskning/{details[i]}"),
                    ),
                    ("queue, overdue first", lambda _: _get(client, "/granskning/",
                                                           {"sort": "overdue"})),
                    ("clean ones to approve together",
                     lambda _: _get(client, "/granskning/godkann-rena")),
                    ("duplicates", lambda _: _get(client, "/granskning/dubbletter")),
                    ("statistics", lambda _: _get(client, "/granskning/statistik")),
                    ("outbox", lambda _: _get(client, "/granskning/utkorg")),
                    ("audit log", lambda _: _get(client, "/granskning/logg")),
                    ("registry search by name",
                     lambda i: _get(client, "/granskning/register", {"q": NAMES[i % len(NAMES)]})),
                ]
                indexes = list(range(requests))
                for _, fn in rows:  # warm caches and pools before anything is timed
                    fn(0)
                timings = [time_each(label, indexes, fn) for label, fn in rows]
                # The decisions change the queue, so they come after every page is timed.
                flows, left = server_flows(client, engine)
                keys = (keystrokes(base, engine, REVIEWER_EMAIL, REVIEWER_PASSWORD, left)
                        if browser else None)
    finally:
        engine.dispose()
    return DatabaseResult(name, len(queued), seed_seconds, max(page_oldest, page_sure), timings,
                          flows, keys)


def _server_name(url: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            version = connection.execute(sa.text("SHOW server_version")).scalar_one()
        return f"PostgreSQL {str(version).split()[0]}"
    finally:
        engine.dispose()


def report(count: int, requests: int, results: Sequence[DatabaseResult], note: str = "") -> str:
    lines = [
        f"kopplingar bench review: {count} submissions, {requests} sequential GETs per row, "
        "one logged-in reviewer, uvicorn on loopback",
    ]
    for result in results:
        base = result.timings[0].median_ms
        slowest = max(result.timings[1:], key=lambda t: t.median_ms)
        lines += [
            "",
            f"{result.name}: {result.queued} queued, seeded in {result.seed_seconds:.1f} s",
            table(result.timings, rate=False),
            f"slowest: {slowest.label}, {slowest.median_ms / base:.0f}x the baseline median",
            f"worst p95: {max(t.p95_ms for t in result.timings[1:]):.1f} ms (target 60 ms)",
        ]
        if result.flows:
            lines += ["", f"{result.name}: deciding, per submission (keys: keyboard only, in "
                      "chromium; before: the previous page)", flow_report(result.flows,
                                                                          result.keys)]
    if note:
        lines += ["", note]
    return "\n".join(lines)


def run(count: int, requests: int, postgresql: str | None, *, postgresql_optional: bool) -> str:
    """Measure on SQLite, and on PostgreSQL at `postgresql` (skipped if optional and down)."""
    note = ""
    # Asked for explicitly, an absent server fails before minutes are spent on SQLite.
    if postgresql and not postgresql_answers(postgresql):
        if not postgresql_optional:
            raise DatabaseUnreachableError(f"PostgreSQL at {postgresql} does not answer")
        note = f"PostgreSQL skipped: nothing answers at {postgresql} (give --postgresql URL)"
        postgresql = None
    results = []
    with sqlite_database() as url:
        results.append(measure(url, "SQLite", count, requests, browser=True))
    if postgresql:
        with fresh_postgresql(postgresql) as url:
            results.append(measure(url, _server_name(url), count, requests))
    return report(count, requests, results, note)


__all__ = [
    "DEFAULT_POSTGRESQL",
    "BenchmarkError",
    "DatabaseResult",
    "DatabaseUnreachableError",
    "log_in",
    "measure",
    "run",
]
