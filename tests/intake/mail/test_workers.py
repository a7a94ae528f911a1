"""Reader processes: the same results as reading in-process, and every way a child can fail.

Real children (spawned interpreters with Tesseract loaded), real databases,
real signals. The slow input is a PDF page with 200 000 strokes, which
pdfium really takes many seconds to render; the large one is a multi-page
TIFF that decodes to over half a gigabyte. Processes are looked up in /proc.
"""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from sqlalchemy import Engine
from sqlmodel import Session

from forms import FormKind, QrPayload
from intake.mail.workers import ChildLimits, ReaderPool, ReaderPoolError, ReaderSetup, ReadFailure
from intake.scan import Gray
from intake.scan.pipeline import (
    IntakeContext,
    ScannedFile,
    enqueue_file,
    file_json,
    finish_file,
    lookup_in,
    read_file,
    scan_file,
)
from kopplingar.database import upgrade_all
from kopplingar.templates import RenderedTemplates
from registry import import_registry, make_engine
from samples import REGISTRY_JSON, SAMPLE_QR_KEY
from samples.scans import CORPUS_DIR, REFERENCE_DATE, record_issued
from workqueue import ImageStore

MAILBOX = "kopplingar@example.se"
ROOT = Path(__file__).resolve().parents[3]


def corpus(name: str) -> tuple[bytes, str]:
    return (CORPUS_DIR / name).read_bytes(), name


def slow_pdf(strokes: int = 200_000) -> bytes:
    """One page of `strokes` long lines: ~0.1 ms each for pdfium at 200 dpi, so ~20 s."""
    ops = ["0.2 w"] + [
        f"{i % 595} {i * 7 % 842} m {i * 13 % 595} {i * 29 % 842} l S" for i in range(strokes)
    ]
    content = zlib.compress("\n".join(ops).encode(), 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content)
        + content
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def large_tiff(pages: int = 6) -> bytes:
    """`pages` 45-megapixel pages: a few kB as group 4, 45 MB each once decoded."""
    page = Image.new("1", (6000, 7500), 1)
    ImageDraw.Draw(page).rectangle((500, 500, 1500, 1500), fill=0)
    buffer = io.BytesIO()
    page.save(
        buffer,
        format="TIFF",
        compression="group4",
        save_all=True,
        append_images=[page] * (pages - 1),
        dpi=(600, 600),
    )
    return buffer.getvalue()


# -- processes, from /proc ---------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()  # [state, ppid, ...]; the name may hold spaces


def alive(pid: int) -> bool:
    """Running (a zombie is dead, only not yet reaped by whoever adopted it)."""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def children_of(parent: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == parent:
                out.append(int(entry.name))
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return ""


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def wait_until(condition: object, seconds: float) -> bool:
    assert callable(condition)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ctx() -> IntakeContext:
    return IntakeContext(
        qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates(MAILBOX), today=REFERENCE_DATE
    )


def load_corpus_registry(engine: Engine) -> None:
    with Session(engine) as session:
        import_registry(session, REGISTRY_JSON)
        record_issued(session, CORPUS_DIR)
        session.commit()


@pytest.fixture(scope="module")
def corpus_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('workers') / 'corpus.db'}"
    engine = make_engine(url)
    upgrade_all(engine)
    load_corpus_registry(engine)
    engine.dispose()
    yield url


class Started:
    """An `on_start` that records (task index, child pid) and may signal the child."""

    def __init__(self, signals: Mapping[int, list[signal.Signals]] | None = None) -> None:
        self.calls: list[tuple[int, int]] = []
        self.signals = {k: list(v) for k, v in (signals or {}).items()}

    def __call__(self, index: int, pid: int) -> None:
        self.calls.append((index, pid))
        planned = self.signals.get(index)
        if planned:
            os.kill(pid, planned.pop(0))

    def pids(self, index: int) -> list[int]:
        return [pid for i, pid in self.calls if i == index]


@pytest.fixture(scope="module")
def started() -> Started:
    return Started()


@pytest.fixture(scope="module")
def pool(ctx: IntakeContext, corpus_url: str, started: Started) -> Iterator[ReaderPool]:
    with ReaderPool(ReaderSetup(ctx, corpus_url), jobs=2, on_start=started) as pool:
        pool.wait_ready()
        yield pool


def same_arrays(a: Mapping[int, Gray], b: Mapping[int, Gray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# -- reading -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_pool_reads_what_reading_in_process_reads(
    engine: Engine, db_url: str, ctx: IntakeContext, tmp_path: Path
) -> None:
    load_corpus_registry(engine)
    names = ["001-office-pdf.pdf", "003-fax-tiff.tif", "004-phone-photo.jpg"]
    items = [*map(corpus, names), ("Hej, här kommer blanketten!\n".encode(), "text.pdf")]
    started = Started()
    with ReaderPool(ReaderSetup(ctx, db_url), jobs=2, on_start=started) as pool:
        scanned = pool.scan_many(items)
        readers = pool.pids
    assert len({pid for _, pid in started.calls}) == 2, "both readers worked"
    for pid in readers:
        assert not alive(pid)
    assert [s.name for s in scanned if isinstance(s, ScannedFile)] == [n for _, n in items]
    form_ids = set()
    for (data, name), result in zip(items, scanned, strict=True):
        assert isinstance(result, ScannedFile)
        with Session(engine) as session:
            ours = finish_file(session, result, ctx)
            theirs = read_file(session, data, name, ctx)
        assert file_json(ours) == file_json(theirs), name
        form_ids |= {d.form_id for d in ours.documents if d.form_id}
        assert ours.sha256 == theirs.sha256 and ours.rejected == theirs.rejected
        assert same_arrays(ours.page_images, theirs.page_images), name
        assert same_arrays(ours.aligned_images, theirs.aligned_images), name
        for doc, ref in zip(ours.documents, theirs.documents, strict=True):
            for field, reading in doc.fields.items():
                assert np.array_equal(reading.crop, ref.fields[field].crop), (name, field)
                assert reading.crop.flags.writeable
    assert len(form_ids) >= 3, "not an empty comparison: the forms were identified and read"
    # The text file was rejected in the child, as in-process: a document, not a failure.
    rejected = scanned[-1]
    assert isinstance(rejected, ScannedFile) and rejected.rejected


@pytest.mark.slow
def test_two_readings_of_one_form_see_each_other_in_the_callers_transaction(
    engine: Engine, db_url: str, ctx: IntakeContext, tmp_path: Path
) -> None:
    load_corpus_registry(engine)
    store = ImageStore(tmp_path / "images")
    with ReaderPool(ReaderSetup(ctx, db_url), jobs=2) as pool:
        first, second = pool.scan_many([corpus("001-office-pdf.pdf")] * 2)
    assert isinstance(first, ScannedFile) and isinstance(second, ScannedFile)
    with Session(engine) as session:
        one = finish_file(session, first, ctx)
        enqueue_file(session, store, one, source_kind="mail")  # not committed
        two = finish_file(session, second, ctx)
        session.rollback()
    codes = [{f.code for f in d.findings} for d in (one.documents[0], two.documents[0])]
    assert one.documents[0].form_id and "form.duplicate" not in codes[0]
    assert "form.duplicate" in codes[1]


def test_results_come_in_input_order_whichever_reader_finishes_first(
    pool: ReaderPool, started: Started
) -> None:
    started.calls.clear()
    items = [
        corpus("007-multi-pdf.pdf"),  # three pages: the longest by far
        (b"", "tom.pdf"),
        (b"not an image at all", "text.png"),
        corpus("001-office-pdf.pdf"),
    ]
    results = pool.scan_many(items)
    assert [r.name if isinstance(r, ScannedFile) else r for r in results] == [n for _, n in items]
    assert started.pids(1) != started.pids(0), "ran beside the long one"
    long_one = results[0]
    assert isinstance(long_one, ScannedFile)
    assert len([p for p in long_one.pages if not p.blank]) >= 2


def test_an_empty_batch_is_an_empty_answer(pool: ReaderPool) -> None:
    assert pool.scan_many([]) == []


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.serial
@pytest.mark.slow
def test_a_file_over_the_time_limit_is_stopped_and_the_next_is_read(
    ctx: IntakeContext, corpus_url: str
) -> None:
    started = Started()
    limits = ChildLimits(seconds=3.0)
    stamps: list[float] = []

    def on_start(index: int, pid: int) -> None:
        stamps.append(time.monotonic())
        started(index, pid)

    with ReaderPool(ReaderSetup(ctx, corpus_url), jobs=1, limits=limits, on_start=on_start) as p:
        slow, normal = p.scan_many([(slow_pdf(), "loop.pdf"), corpus("001-office-pdf.pdf")])
        done = time.monotonic()
    assert isinstance(slow, ReadFailure) and slow.kind == "timeout"
    assert "loop.pdf" in slow.message and "3 s" in slow.message
    assert "lång tid" in slow.customer_message
    assert isinstance(normal, ScannedFile) and normal.documents[0].document.form_id
    # The slow child was killed at its deadline (the replacement's start-up follows).
    killed = started.pids(0)[0]
    assert not alive(killed) and started.pids(1)[0] != killed
    assert stamps[1] - stamps[0] < limits.seconds + 4.0
    assert done - stamps[0] < limits.seconds + 8.0


def child_peak_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = re.search(r"^VmPeak:\s+(\d+) kB", status, re.MULTILINE)
    assert kb is not None
    return int(kb.group(1)) * 1024


@pytest.mark.serial
@pytest.mark.slow
def test_a_file_over_the_memory_limit_fails_alone(
    pool: ReaderPool, started: Started, ctx: IntakeContext, corpus_url: str
) -> None:
    # What a reader's address space comes to after reading a normal scan, here ...
    started.calls.clear()
    pool.scan_many([corpus("001-office-pdf.pdf")])
    need = child_peak_bytes(started.calls[-1][1])
    # ... is the limit, with room to spare; six 45-megapixel pages need 270 MB more.
    limits = ChildLimits(memory_bytes=need + 128 * 1024**2)
    with ReaderPool(ReaderSetup(ctx, corpus_url), jobs=1, limits=limits) as small:
        large, normal = small.scan_many([(large_tiff(), "enorm.tif"), corpus("001-office-pdf.pdf")])
    assert isinstance(large, ReadFailure) and large.kind == "memory", large
    assert "enorm.tif" in large.message and "minne" in large.customer_message
    assert isinstance(normal, ScannedFile) and normal.documents[0].document.form_id


@pytest.mark.serial
@pytest.mark.slow
def test_a_reader_limited_to_40_mb_fails_each_file_and_the_pool_goes_on(
    ctx: IntakeContext, corpus_url: str
) -> None:
    started = Started()
    limits = ChildLimits(memory_bytes=40 * 1024**2)
    with ReaderPool(ReaderSetup(ctx, corpus_url), jobs=1, limits=limits, on_start=started) as p:
        (first,) = p.scan_many([corpus("004-phone-photo.jpg")])
        (again,) = p.scan_many([corpus("004-phone-photo.jpg")])
    for failure in (first, again):
        assert isinstance(failure, ReadFailure) and failure.kind in ("memory", "crashed")
    assert len({pid for _, pid in started.calls}) == len(started.calls), "a fresh reader each time"


@pytest.mark.slow
def test_a_reader_killed_once_is_replaced_and_the_file_read_again(
    ctx: IntakeContext, corpus_url: str
) -> None:
    started = Started({0: [signal.SIGKILL]})
    with ReaderPool(ReaderSetup(ctx, corpus_url), jobs=1, on_start=started) as pool:
        (result,) = pool.scan_many([corpus("001-office-pdf.pdf")])
    killed, retried = started.pids(0)
    assert killed != retried and not alive(killed)
    assert isinstance(result, ScannedFile)
    engine = make_engine(corpus_url)
    with Session(engine) as session:
        expected = scan_file(*corpus("001-office-pdf.pdf"), ctx, lookup_in(session))
    engine.dispose()
    doc, ref = result.documents[0].document, expected.documents[0].document
    assert doc.form_id == ref.form_id and doc.form_id
    assert {n: f.value for n, f in doc.fields.items()} == {
        n: f.value for n, f in ref.fields.items()
    }


@pytest.mark.slow
def test_a_reader_that_dies_on_every_attempt_is_a_crash_and_the_next_file_is_read(
    ctx: IntakeContext,
    corpus_url: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG, logger="intake.mail.workers")
    started = Started({0: [signal.SIGSEGV, signal.SIGKILL]})
    with ReaderPool(ReaderSetup(ctx, corpus_url), jobs=1, on_start=started) as pool:
        crashed, normal = pool.scan_many([corpus("001-office-pdf.pdf"), (b"", "tom.pdf")])
    assert isinstance(crashed, ReadFailure) and crashed.kind == "crashed"
    assert "SIGKILL" in crashed.message and "2 attempts" in crashed.message
    assert len(started.pids(0)) == 2, "one retry (crash_retries=1)"
    assert isinstance(normal, ScannedFile) and normal.rejected
    # The segfault's traceback (faulthandler) went to the log at debug, not to our stderr;
    # what is logged at the default level is one line each.
    assert "SIGSEGV" in caplog.text and "Segmentation fault" in caplog.text
    assert "Segmentation fault" not in capfd.readouterr().err
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud and all("\n" not in line and "Segmentation" not in line for line in loud)


class FailingTemplates(RenderedTemplates):
    """A bug in a reader: rendering the expected page raises."""

    def expected(self, kind: FormKind, values: Mapping[str, str], payload: QrPayload) -> Gray:
        raise RuntimeError(f"no expected page for {kind.value}")


@pytest.mark.slow
def test_an_exception_in_a_reader_fails_that_file_once_and_the_reader_stays(
    ctx: IntakeContext, corpus_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="intake.mail.workers")
    broken = IntakeContext(qr_key=ctx.qr_key, templates=FailingTemplates(MAILBOX), today=ctx.today)
    started = Started()
    with ReaderPool(ReaderSetup(broken, corpus_url), jobs=1, on_start=started) as pool:
        failed, normal = pool.scan_many([corpus("001-office-pdf.pdf"), (b"", "tom.pdf")])
    assert isinstance(failed, ReadFailure) and failed.kind == "crashed"
    # A sentence for people; the exception's words and traceback only in the log.
    assert "RuntimeError" not in failed.message and "no expected page" not in failed.message
    assert failed.message.endswith("(details in the log)")
    assert isinstance(normal, ScannedFile)
    assert len(started.pids(0)) == 1, "no retry: it would fail the same way"
    assert started.pids(0) == started.pids(1), "the same reader read on"
    assert "Traceback" in caplog.text
    loud = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("RuntimeError: no expected page for" in line for line in loud)
    assert all("\n" not in line for line in loud)


def test_a_reader_that_cannot_reach_the_database_is_a_set_up_error(
    ctx: IntakeContext,
) -> None:
    setup = ReaderSetup(ctx, "postgresql://postgres@127.0.0.1:9/nothing")
    with ReaderPool(setup, jobs=1) as pool:
        with pytest.raises(ReaderPoolError) as caught:
            pool.wait_ready()
        assert caught.value.exit_code == 70
        assert "could not be set up" in caught.value.message
        with pytest.raises(ReaderPoolError, match="could not be set up"):
            pool.scan_many([(b"", "tom.pdf")])


# -- no process left behind --------------------------------------------------------------------


def test_closing_a_pool_stops_and_reaps_every_reader(ctx: IntakeContext, corpus_url: str) -> None:
    before = set(children_of(os.getpid()))
    pool = ReaderPool(ReaderSetup(ctx, corpus_url), jobs=2)
    pool.wait_ready()
    readers = pool.pids
    for pid in readers:
        assert environment(pid)["OMP_THREAD_LIMIT"] == "1"
    pool.close()
    pool.close()
    assert not any(_stat(pid) for pid in readers), "stopped and reaped, no zombies"
    # Only multiprocessing's resource tracker may stay: one per process, not per pool.
    left = set(children_of(os.getpid())) - before
    assert all("resource_tracker" in cmdline(pid) for pid in left), left
    with pytest.raises(ReaderPoolError):
        pool.scan_many([(b"", "tom.pdf")])
    # Closed while the readers are still starting: no waiting for their set-up.
    starting = ReaderPool(ReaderSetup(ctx, corpus_url), jobs=2)
    pids = starting.pids
    begin = time.monotonic()
    starting.close()
    assert time.monotonic() - begin < 1.0
    assert not any(_stat(pid) for pid in pids)


PARENT = """
import sys
from intake.scan.pipeline import IntakeContext
from intake.mail.workers import ReaderPool, ReaderSetup
from kopplingar.templates import RenderedTemplates
from samples import SAMPLE_QR_KEY

def started(index, pid):
    print("busy", pid, flush=True)

ctx = IntakeContext(qr_key=SAMPLE_QR_KEY, templates=RenderedTemplates("kopplingar@example.se"))
pool = ReaderPool(ReaderSetup(ctx, sys.argv[1]), jobs=2, on_start=started)
print("readers", *pool.pids, flush=True)
pool.scan_many([(open(sys.argv[2], "rb").read(), "loop.pdf")])
"""


@pytest.mark.slow
def test_readers_exit_when_their_parent_is_killed(corpus_url: str, tmp_path: Path) -> None:
    loop = tmp_path / "loop.pdf"
    loop.write_bytes(slow_pdf())
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, corpus_url, str(loop)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout is not None
        readers = [int(p) for p in parent.stdout.readline().split()[1:]]
        busy = parent.stdout.readline().split()
        assert len(readers) == 2 and busy[0] == "busy" and int(busy[1]) in readers
        helpers = children_of(parent.pid)  # the readers and the resource tracker
        assert set(readers) <= set(helpers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
    finally:
        parent.kill()
        parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
    # Busy or idle, every reader notices its parent is gone and exits.
    assert wait_until(lambda: not any(alive(pid) for pid in helpers), 10.0), [
        (pid, cmdline(pid)) for pid in helpers if alive(pid)
    ]
