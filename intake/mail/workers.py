"""Reading attachments in child processes, each with a time and a memory limit.

A mailed PDF that loops, or a picture that decodes to gigabytes, must cost
that one attachment and not the poller. `ReaderPool` keeps `jobs` reader
processes, each set up once (imports, the Tesseract engine, the blank
templates, its own read-only database engine for issued-form look-ups) and
reused; `scan_many` hands them attachments and runs `pipeline.scan_file` in
them. Validation stays with the caller (`pipeline.finish_file`), in the
caller's transaction.

What can go wrong with one attachment, and what the caller gets:

* over `ChildLimits.seconds` of wall time: the child is killed (SIGKILL) and
  replaced; `ReadFailure("timeout")`;
* over `ChildLimits.memory_bytes` of address space (RLIMIT_AS, set in the
  child after its set-up): the allocation fails, the child reports it and is
  replaced; `ReadFailure("memory")`;
* the child dies (a signal, a segfault in a C library, kill -9 from outside):
  the attachment is tried again in a fresh child `crash_retries` times, then
  `ReadFailure("crashed")`; an exception from the reader (a bug, Tesseract
  failing) is also "crashed", without a retry, since it would happen again.

A file that is not a readable PDF or image is not a failure: `scan_file`
turns it into an unreadable document, as in-process.

Children are started with the "spawn" method (a fresh interpreter: no copy of
the parent's threads, locks or database connections), with
`OMP_THREAD_LIMIT=1` (one single-threaded reader per core, DESIGN.md). Their
stdout and stderr (Tesseract's and pdfium's chatter, a segfault's traceback)
come back through a pipe into this module's logger at debug level, never to
the terminal: what goes out at the default level is one line per event, and
a `ReadFailure` says what happened in a sentence, never with the exception's
own words (those are in the log).
Each child blocks a thread on a pipe whose other end only the parent holds:
when the parent dies, even by SIGKILL, the pipe closes and the child exits,
so no reader is ever orphaned. (Spawning also starts multiprocessing's
resource tracker, one per parent process; it exits with the parent.)

A reader's result comes back pickled, its page images out of band (written
from the arrays' own memory, not copied into one pickle). This is isolation
against runaway inputs, not a sandbox: a reader holds the database URL, and
the parent trusts what its readers send.
"""

from __future__ import annotations

import contextlib
import faulthandler
import logging
import math
import multiprocessing
import os
import pickle
import resource
import signal
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import TYPE_CHECKING, Literal, cast

from intake.errors import IntakeError

if TYPE_CHECKING:
    from intake.scan import IntakeContext, IssuedFormView, ScannedFile

log = logging.getLogger(__name__)

SETUP_SECONDS = 120.0  # a child that is not ready by then will not be
SETUP_ATTEMPTS = 3  # readers dying in set-up this many times in a row: something is broken
STOP_SECONDS = 2.0  # a closed child has this long to exit before it is killed
OUTPUT_LINES = 40  # of a child's latest output, logged when it dies (a segfault's traceback)
# What a child's environment must say before any OCR or BLAS library loads.
CHILD_ENVIRONMENT = {"OMP_THREAD_LIMIT": "1", "OPENBLAS_NUM_THREADS": "1"}


class ReaderPoolError(IntakeError):
    """The reader processes cannot be started or set up (not the fault of any input)."""

    exit_code = os.EX_SOFTWARE


@dataclass(frozen=True)
class ChildLimits:
    seconds: float = 120.0  # wall time per attachment
    # RLIMIT_AS (address space, not resident memory) of each reader process. Measured
    # peaks: a set-up reader 0.53 GB; the whole corpus 0.67 GB; a 50 Mpx PNG 0.72 GB; 30
    # office PDF pages 0.96 GB; a 16-bit 47 Mpx PNG 1.7 GB; 30 pages of 50 Mpx (the most
    # the page caps let through) 2.1 GB. 3 GiB passes all of these with room to spare.
    memory_bytes: int = 3 * 1024**3


@dataclass(frozen=True)
class ReaderSetup:
    """Everything a reader process needs; pickled once per child."""

    ctx: IntakeContext
    database_url: str  # the child's own engine, for issued-form look-ups only


@dataclass(frozen=True)
class ReadFailure:
    """An attachment no reader could finish; "crashed" includes an exception in the reader."""

    kind: Literal["timeout", "memory", "crashed"]
    message: str  # English, for the log and the operator
    customer_message: str  # Swedish, for the sender and the reviewer


# -- the child -------------------------------------------------------------------------------


def _watch_parent(lifeline: Connection) -> None:
    # Only the parent holds the write end: end of file means the parent is gone or has
    # closed the pool, and either way nobody will read what this child produces.
    try:
        os.read(lifeline.fileno(), 1)
    finally:
        os._exit(0)


def _is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    # OpenCV reports a failed allocation as its own error, code -4 (StsNoMem).
    return type(exc).__name__ == "error" and getattr(exc, "code", None) == -4


def _send_result(conn: Connection, result: ScannedFile) -> None:
    """`result` with its arrays out of band, written from their own memory.

    Pickled in band, a 30-page file's ~400 MB of page images would be copied
    into one bytes object (and grown into it), doubling the reader's peak.
    """
    buffers: list[pickle.PickleBuffer] = []
    head = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    views = [b.raw() for b in buffers]  # before anything is sent: no half-sent answer
    conn.send(("ok", [v.nbytes for v in views]))
    conn.send_bytes(head)
    for view in views:
        conn.send_bytes(view)


def _receive_result(conn: Connection, sizes: list[int]) -> ScannedFile:
    head = conn.recv_bytes()
    buffers = []
    for size in sizes:
        # Writable, as the arrays of an in-process scan are.
        buffer = bytearray(size)
        conn.recv_bytes_into(buffer)
        buffers.append(buffer)
    return cast("ScannedFile", pickle.loads(head, buffers=buffers))


def _set_up(setup: ReaderSetup) -> Callable[[bytes, str], ScannedFile]:
    """Load everything a scan needs, so the first attachment costs no more than the rest."""
    import cv2
    import numpy as np
    from sqlmodel import Session

    from forms import FormKind
    from intake.scan import TESSERACT_PSM, IssuedFormView, encode_images, recognise_words, scan_file
    from registry import get_issued_form, make_engine

    cv2.setNumThreads(1)  # one reader per core; OpenCV's own threads would fight them
    engine = make_engine(setup.database_url)
    with engine.connect():
        pass  # an unreachable database is a set-up failure, not every attachment's
    recognise_words(np.full((40, 40), 255, np.uint8), psm=TESSERACT_PSM, dpi=200)
    for kind in FormKind:
        setup.ctx.templates.blank(kind)

    def lookup(form_id: str) -> IssuedFormView | None:
        with Session(engine) as session:
            form = get_issued_form(session, form_id)
            return IssuedFormView.of(form) if form is not None else None

    def scan(data: bytes, name: str) -> ScannedFile:
        scanned = scan_file(data, name, setup.ctx, lookup)
        encode_images(scanned)
        return scanned

    return scan


def _child_main(
    conn: Connection, lifeline: Connection, output: Connection, setup_blob: bytes, memory: int
) -> None:
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    output.close()
    faulthandler.enable()  # a segfault's Python traceback goes to the parent's log
    os.environ.update(CHILD_ENVIRONMENT)
    # ^C in a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(lifeline,), daemon=True).start()
    try:
        scan = _set_up(pickle.loads(setup_blob))  # unpickling imports the pipeline
    except Exception as exc:
        conn.send(("setup_failed", f"{type(exc).__name__}: {exc}"))
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory if hard == resource.RLIM_INFINITY else min(memory, hard)
    # After set-up, so the limit is on what reading costs on top of a loaded reader.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
            if task is None:
                return
            data, name = task
            result = scan(data, name)
            del data, task
            _send_result(conn, result)
            del result
            continue
        except EOFError:
            return
        except Exception as exc:
            if not _is_out_of_memory(exc):
                conn.send(("error", "".join(traceback.format_exception(exc)).strip()))
                continue
            detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        # Out of the handler, the failed scan's frames (and their arrays) are freed, so
        # the answer has memory to be sent with. Then a fresh child, not a fragmented heap.
        conn.send(("memory", detail))
        return


# -- the parent ------------------------------------------------------------------------------


@dataclass(eq=False)
class _Child:
    process: BaseProcess
    pid: int
    conn: Connection
    lifeline: Connection  # the write end; closing it stops the child
    output: Connection  # the read end of the child's stdout and stderr
    started: float
    ready: bool = False
    used: bool = False  # has read something: `renew` replaces it
    task: int | None = None
    deadline: float = math.inf
    partial: bytearray = field(default_factory=bytearray)  # output after the last newline
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=OUTPUT_LINES))


def _signal_name(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with status {exitcode}"


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB"


class ReaderPool:
    """`jobs` supervised reader processes; `scan_many` reads attachments with them.

    Started (without waiting for the readers' set-up) when made; used from one
    thread at a time; `close` (or the `with` block's end) stops and reaps them.
    """

    def __init__(
        self,
        setup: ReaderSetup,
        *,
        jobs: int = 2,
        limits: ChildLimits = ChildLimits(),
        crash_retries: int = 1,
        on_start: Callable[[int, int], None] | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError("a reader pool needs at least one job")
        self._setup_blob = pickle.dumps(setup)
        self._limits = limits
        self._crash_retries = crash_retries
        self._on_start = on_start
        self._mp = multiprocessing.get_context("spawn")
        self._children: list[_Child] = []
        self._closed = False
        self._setup_deaths = 0  # in a row, without a reader getting ready in between
        try:
            for _ in range(jobs):
                self._children.append(self._spawn())
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pids(self) -> list[int]:
        """The reader processes' ids, for the log (and the tests)."""
        return [c.pid for c in self._children]

    # -- children ----------------------------------------------------------------------------

    def _spawn(self) -> _Child:
        conn, child_conn = self._mp.Pipe(duplex=True)
        life_r, life_w = self._mp.Pipe(duplex=False)
        out_r, out_w = self._mp.Pipe(duplex=False)
        process = self._mp.Process(
            target=_child_main,
            args=(child_conn, life_r, out_w, self._setup_blob, self._limits.memory_bytes),
            name="kopplingar-reader",
            daemon=True,
        )
        # The spawned interpreter reads its environment when it starts: set here, the
        # limit holds before anything in the child (the main module too) loads OpenMP.
        saved = {k: os.environ.get(k) for k in CHILD_ENVIRONMENT}
        os.environ.update(CHILD_ENVIRONMENT)
        try:
            process.start()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            child_conn.close()
            life_r.close()
            out_w.close()
        os.set_blocking(out_r.fileno(), False)
        assert process.pid is not None
        return _Child(process, process.pid, conn, life_w, out_r, time.monotonic())

    def _drain(self, child: _Child) -> None:
        while True:
            try:
                chunk = os.read(child.output.fileno(), 65536)
            except BlockingIOError:
                return
            if not chunk:
                return
            child.partial += chunk
            *lines, rest = child.partial.split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                log.debug("reader %d: %s", child.pid, line)
                child.recent.append(line)
            child.partial = bytearray(rest)

    def _stop(self, child: _Child, *, kill: bool) -> str:
        """End `child` and reap it; returns the last of its output."""
        if kill:
            child.process.kill()
        child.lifeline.close()
        child.conn.close()
        child.process.join(STOP_SECONDS)
        if child.process.is_alive():
            child.process.kill()
            child.process.join()
        self._drain(child)
        tail = "\n".join([*child.recent, child.partial.decode("utf-8", "replace")]).strip()
        child.output.close()
        child.process.close()
        return tail

    def _replace(self, child: _Child, *, kill: bool = True) -> str:
        tail = self._stop(child, kill=kill)
        self._children[self._children.index(child)] = self._spawn()
        return tail

    def close(self) -> None:
        """Stop every reader and reap it; idempotent."""
        self._closed = True
        children, self._children = self._children, []
        for child in children:
            # An idle child exits on its own when its lifeline closes; a busy or starting
            # one has nothing worth waiting for.
            self._stop(child, kill=child.task is not None or not child.ready)

    def renew(self) -> None:
        """Replace every reader that has read anything, so the next file meets a fresh one.

        For a message a run died on: nothing another message left in a reader's
        heap (or its Tesseract) can be what fails it again. Readers not yet used
        are kept, so a new run's first suspect costs no extra start-up.
        """
        for child in list(self._children):
            if child.used and child.task is None:
                self._replace(child, kill=False)

    # -- reading -----------------------------------------------------------------------------

    def scan_many(self, items: Sequence[tuple[bytes, str]]) -> list[ScannedFile | ReadFailure]:
        """Each (data, name) read by a reader process; results in input order."""
        if self._closed:
            raise ReaderPoolError("the reader pool is closed")
        results: list[ScannedFile | ReadFailure | None] = [None] * len(items)
        crashes = [0] * len(items)
        todo = deque(range(len(items)))
        try:
            while todo or any(c.task is not None for c in self._children):
                for child in self._children:
                    if child.ready and child.task is None and todo:
                        self._hand(child, todo.popleft(), items)
                self._wait()
                now = time.monotonic()
                for child in list(self._children):
                    self._poll(child, now, items, results, crashes, todo)
        finally:
            # Interrupted (an exception, ^C): a busy child's answer would reach the next
            # call as if it were that call's, so busy children are replaced.
            for child in list(self._children):
                if child.task is not None:
                    child.task = None
                    self._replace(child)
        assert all(r is not None for r in results)
        return [r for r in results if r is not None]

    def wait_ready(self) -> None:
        """Block until every reader is set up; a reader that cannot be raises here."""
        if self._closed:
            raise ReaderPoolError("the reader pool is closed")
        while not all(c.ready for c in self._children):
            self._wait()
            now = time.monotonic()
            for child in list(self._children):
                self._poll(child, now, [], [], [], deque())

    def _hand(self, child: _Child, index: int, items: Sequence[tuple[bytes, str]]) -> None:
        child.task = index
        child.used = True
        child.deadline = time.monotonic() + self._limits.seconds
        # A dead child's sentinel says so in a moment, and the task is retried.
        with contextlib.suppress(OSError):
            child.conn.send(items[index])
        if self._on_start is not None:
            self._on_start(index, child.pid)

    def _wait(self) -> None:
        deadlines = [c.deadline for c in self._children if c.task is not None]
        deadlines += [c.started + SETUP_SECONDS for c in self._children if not c.ready]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        handles: list[Connection | int] = []
        for child in self._children:
            handles += [child.conn, child.output, child.process.sentinel]
        wait(handles, timeout)

    def _poll(
        self,
        child: _Child,
        now: float,
        items: Sequence[tuple[bytes, str]],
        results: list[ScannedFile | ReadFailure | None],
        crashes: list[int],
        todo: deque[int],
    ) -> None:
        self._drain(child)
        message = None
        try:
            if child.conn.poll():
                message = child.conn.recv()
                if message[0] == "ok":
                    message = ("ok", _receive_result(child.conn, message[1]))
        except (EOFError, OSError):
            message = None  # died, even half-way through an answer: the sentinel below
        if message is not None:
            self._answer(child, message, items, results)
            return
        if not child.process.is_alive():
            self._died(child, items, results, crashes, todo)
        elif child.task is not None and now >= child.deadline:
            index, child.task = child.task, None
            self._replace(child)
            seconds = self._limits.seconds
            log.warning("reading %s took over %g s; reader stopped", items[index][1], seconds)
            results[index] = ReadFailure(
                "timeout",
                f"reading {items[index][1]} took more than {seconds:g} s and was stopped",
                "Filen tog för lång tid att läsa maskinellt och kunde inte läsas.",
            )
        elif not child.ready and now >= child.started + SETUP_SECONDS:
            self._replace(child)
            raise ReaderPoolError(f"a reader process was not ready after {SETUP_SECONDS:g} s")

    def _answer(
        self,
        child: _Child,
        message: tuple[str, object],
        items: Sequence[tuple[bytes, str]],
        results: list[ScannedFile | ReadFailure | None],
    ) -> None:
        what, payload = message
        if what == "ready":
            child.ready = True
            self._setup_deaths = 0
            log.debug("reader %d ready in %.2f s", child.pid, time.monotonic() - child.started)
            return
        if what == "setup_failed":
            self._replace(child)
            raise ReaderPoolError(f"a reader process could not be set up: {payload}")
        index, child.task = child.task, None
        assert index is not None
        name = items[index][1]
        if what == "ok":
            results[index] = cast("ScannedFile", payload)
        elif what == "memory":
            self._replace(child)
            limit = _mib(self._limits.memory_bytes)
            log.warning("reading %s ran out of memory (limit %s): %s", name, limit, payload)
            results[index] = ReadFailure(
                "memory",
                f"reading {name} needed more than the reader's {limit} of memory",
                "Filen kräver för mycket minne för att kunna läsas maskinellt.",
            )
        else:
            # An exception in the reading code: one line for the log, the traceback only
            # at debug; the stored reason is a sentence, never the exception's words.
            last = str(payload).splitlines()[-1] if payload else "no message"
            log.warning("reading %s failed in the reader: %s", name, last)
            log.debug("reading %s failed in the reader:\n%s", name, payload)
            results[index] = ReadFailure(
                "crashed",
                f"reading {name} stopped on an error in the reading code (details in the log)",
                "Filen kunde inte läsas maskinellt: läsningen avbröts av ett fel.",
            )

    def _died(
        self,
        child: _Child,
        items: Sequence[tuple[bytes, str]],
        results: list[ScannedFile | ReadFailure | None],
        crashes: list[int],
        todo: deque[int],
    ) -> None:
        index, child.task = child.task, None
        child.process.join()
        how = _signal_name(child.process.exitcode)
        tail = self._replace(child, kill=False)
        if index is None:
            state = "while idle" if child.ready else "while setting up"
            log.warning("reader %d %s %s", child.pid, how, state)
            if tail:
                log.debug("reader %d's last output:\n%s", child.pid, tail)
            if not child.ready:
                self._setup_deaths += 1
                if self._setup_deaths >= SETUP_ATTEMPTS:
                    raise ReaderPoolError(f"reader processes keep dying while setting up: {how}")
            return
        name = items[index][1]
        crashes[index] += 1
        # One line at the default level; a segfault's traceback only at debug (-vv).
        log.warning(
            "reader %d %s while reading %s (attempt %d)", child.pid, how, name, crashes[index]
        )
        if tail:
            log.debug("reader %d's last output:\n%s", child.pid, tail)
        if crashes[index] <= self._crash_retries:
            todo.appendleft(index)
            return
        results[index] = ReadFailure(
            "crashed",
            f"the reader process {how} while reading {name} ({crashes[index]} attempts)",
            "Filen kunde inte läsas maskinellt: läsningen avbröts.",
        )
