"""The mailbox pass: every message recorded, read once, queued once, then moved.

One pass (`poll_once`) over one folder of one mailbox, in this order, each
step committed before the next begins:

1. List the folder's UIDs and look them up: known under this UIDVALIDITY, or
   new. For the new ones one FETCH of size and BODYSTRUCTURE decides how
   much to fetch: the whole message, or only its header when it is over the
   size, parts or depth caps.
2. Record each new message (account, folder, UIDVALIDITY, UID, Message-ID,
   sha256 of the raw bytes) with its raw bytes already in the store, state
   `received`. A message whose bytes we already know (a UIDVALIDITY reset, a
   person moving it back) is not recorded again: its record moves to the
   new UID and carries on from its state.
3. Process `received` messages in batches: parse with caps, read each
   attachment in a reader child process (`intake.mail.workers`), then in ONE
   transaction: the attachments' outcomes, the submissions, the reply in the
   outbox, state `processed` or `quarantined`.
4. Only after that commit, move the message to Processed or Quarantine.

A crash anywhere leaves a state the next pass finishes: before step 2 the
message is simply new again; between 2 and 3 it is `received` and is
processed from the stored bytes; between 3 and 4 it is finished and only
moved. A run marks, committed, what it works on: a batch together
(`reading_since`), or one message alone (`working_since`). The next run
charges an attempt only to a message a dead run was working on alone, and
first retries each message a dead run left unfinished on its own, in a
fresh reader; so a message that kills the poller every time is quarantined
after `max_attempts` of its own deaths, and its neighbours never are. A
message released by a reviewer, or moved back to the inbox by a person, gets
one such try. A fault of ours (`intake.mail.storage`: the data folder, the
database) charges nobody: the marks are taken back and the run exits 75.
Nothing is deleted, ever.

Step 2 (recording, and a person's move back) is `intake.mail.recording`,
what each attachment becomes `intake.mail.outcomes`, the answers to the
sender `intake.mail.replies`, step 4 and the moves a dead run did not write
down `intake.mail.moves`; the pass is set up with an
`intake.mail.policy.MailboxPolicy`.

Every step of every message is logged as one structured event (the fields
in `extra=`, keys of the JSON object under `--log-format json`), so an
operator can follow one message by its Message-ID (`message_id`, as the
header has it: `<...>`; `record_id` is its row in `inbound_messages`):

* `message.recorded` (info): uid, folder, uidvalidity, sha256, size, sender;
  or `message.seen_before` when the same bytes were recorded earlier;
* `attachment.read` (info; warning when the reader had to be stopped), one
  per attachment and skipped part: attachment (its name), outcome, reason
  (English), submissions queued from it;
* `message.processed` (info): state, attachments, submissions; or
  `message.quarantined` (warning) with the reason;
* `message.rejoined` (info): a reply joined the case waiting for it
  (`intake.mail.rejoin`): submission, matched_by (thread, form_id), pages;
* `reply.queued` (info): kind (receipt, no_attachment, message_rejected),
  to, state (pending, or suppressed by the rate limit); or `reply.skipped`
  with the reason;
* `message.moved` (info): uid, folder, to_folder; `message.move_settled`
  for a move found done by an earlier run.

A lost connection is `pass.reconnecting` (warning) with the reason; a run
found dead on a message `message.interrupted` (warning, with attempts); a
quarantined message a person moved back `message.moved_back`; a fault of our
own `pass.storage_fault` (info: the command line prints the one line).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from intake.mail.headers import HeaderInfo, bracketed
from intake.mail.inflight import charge_dead_runs, is_suspect, mark_in_flight, take_back_marks
from intake.mail.message import MessageRejected, ParsedMessage, parse_header, parse_message
from intake.mail.moves import move_message, settle_moves, take_back_released
from intake.mail.outcomes import (
    Outcome,
    attachment_outcome,
    attachment_row,
    log_outcomes,
    skipped_row,
)
from intake.mail.policy import MailboxPolicy
from intake.mail.recording import log_moved_back, moved_back, record_uid, reopen
from intake.mail.rejoin import log_rejoined, rejoin
from intake.mail.replies import (
    log_reply,
    may_reply,
    over_caps_swedish,
    queue_rejection,
    queue_reply,
)
from intake.mail.storage import OUR_FAULTS, check_storage, storage_fault
from intake.mail.types import MailboxUnavailable, MailSource, MessageMeta
from intake.mail.workers import ReaderPool, ReadFailure
from intake.scan import IntakeContext, ScannedFile
from workqueue import (
    AttachmentOutcome,
    ImageStore,
    InboundMessage,
    MessageState,
    OutboundMail,
    ReasonCode,
    first_submission_for_file,
    messages_at,
    released_messages,
)

# MailboxPolicy and MailSource are here for the callers that set up a pass from this module.
__all__ = [
    "Checkpoint",
    "MailSource",
    "MailboxPass",
    "MailboxPolicy",
    "PollSummary",
    "Scanner",
]

log = logging.getLogger(__name__)

class Scanner(Protocol):
    """Reads attachments (in child processes): `intake.mail.workers.ReaderPool`."""

    def scan_many(self, items: Sequence[tuple[bytes, str]]) -> list[ScannedFile | ReadFailure]: ...


Checkpoint = Callable[[str, int], None]


def _no_checkpoint(_step: str, _message: int) -> None:
    return None


@dataclass
class PollSummary:
    account: str
    folder: str
    read: int = 0  # new messages fetched and recorded
    queued: int = 0  # messages with at least one form in the queue
    submissions: int = 0
    quarantined: int = 0
    skipped: int = 0  # seen before (already finished, or the same bytes again): only moved
    processed: int = 0  # messages finished this pass (queued or not)
    moved: int = 0
    replies: int = 0
    reconnects: int = 0
    seconds: float = 0.0
    reading_seconds: float = 0.0  # waiting for the reader processes

    def line(self) -> str:
        return (
            f"{self.account} {self.folder}: {self.read} read, {self.queued} queued "
            f"({self.submissions} submissions), {self.quarantined} quarantined, "
            f"{self.skipped} skipped, {self.moved} moved, {self.replies} replies queued "
            f"in {self.seconds:.1f} s"
        )


@dataclass
class _Work:
    uid: int | None  # None: a released message that is not in this folder
    record_id: int
    parsed: ParsedMessage | None = None
    fresh: list[int] = field(default_factory=list)  # indexes into parsed.attachments to read
    results: dict[int, ScannedFile | ReadFailure] = field(default_factory=dict)


class MailboxPass:
    """One pass over one folder; `run` retries the pass after a dropped connection."""

    def __init__(
        self,
        source: MailSource,
        engine: Engine,
        *,
        policy: MailboxPolicy,
        intake: IntakeContext,
        scanner: Scanner,
        raw_store: ImageStore,
        image_store: ImageStore,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        checkpoint: Checkpoint | None = None,
        should_stop: Callable[[], bool] = lambda: False,
        max_reconnects: int = 3,
        min_free_bytes: int = 0,
    ) -> None:
        self.source = source
        self.engine = engine
        self.policy = policy
        self.intake = intake
        self.scanner = scanner
        self.raw_store = raw_store
        self.image_store = image_store
        self.now = now
        self.checkpoint = checkpoint or _no_checkpoint
        self.should_stop = should_stop
        self.max_reconnects = max_reconnects
        self.min_free_bytes = min_free_bytes
        # Records this run marked in flight (`reading_since`, `working_since`): undone
        # when the pass stops for a fault of our own, so no message is charged for it.
        self._in_flight: set[int] = set()

    def run(self) -> PollSummary:
        summary = PollSummary(self.source.account, self.source.folder)
        start = time.perf_counter()
        check_storage([self.raw_store.root, self.image_store.root], self.min_free_bytes)
        reconnects = 0
        while True:
            try:
                self._pass(summary)
                break
            except OUR_FAULTS as exc:
                self._undo_in_flight()
                fault = storage_fault(exc)
                log.debug("storage fault", exc_info=True)
                # The command line prints the one line; this is the event for the log.
                log.info(
                    "%s",
                    fault.message,
                    extra={
                        "event": "pass.storage_fault",
                        "account": self.source.account,
                        "folder": self.source.folder,
                        "reason": fault.message,
                    },
                )
                raise fault from exc
            except MailboxUnavailable as exc:
                # A lost connection is not the messages' fault either.
                self._undo_in_flight()
                # Everything done so far is committed; a new pass picks up from there.
                if reconnects >= self.max_reconnects:
                    raise
                reconnects += 1
                log.warning(
                    "connection lost (%s); reconnecting (%d)",
                    exc.message,
                    reconnects,
                    extra={
                        "event": "pass.reconnecting",
                        "account": self.source.account,
                        "folder": self.source.folder,
                        "reason": exc.message,
                        "reconnects": reconnects,
                    },
                )
                self.source.reconnect()
        summary.reconnects = reconnects
        summary.seconds = time.perf_counter() - start
        return summary

    # -- step 1 and 2: list, record -------------------------------------------------

    def _pass(self, summary: PollSummary) -> None:
        source, policy = self.source, self.policy
        for name in (policy.processed_folder, policy.quarantine_folder):
            source.ensure_folder(name)
        uidvalidity = source.uidvalidity()
        uids = source.uids()
        with Session(self.engine) as session:
            settle_moves(session, source, uidvalidity, set(uids), self.now())
            self._recover(session)
            known = messages_at(session, source.account, source.folder, uidvalidity, uids)
            for uid, record in known.items():
                if moved_back(record):  # the same UID again: a folder keeps file names
                    reopen(session, record, self.now())
                    log_moved_back(record, uid, source.folder)
            session.commit()
            to_move = [(u, m.id) for u, m in known.items() if m.state != MessageState.RECEIVED]
            received = {m.id: m for m in known.values() if m.state == MessageState.RECEIVED}
            to_process = [(u, m.id) for u, m in known.items() if m.id in received]
            suspects = {i for i, m in received.items() if is_suspect(m)}
            # Released by a reviewer, wherever the message now sits: from its stored bytes.
            elsewhere = [
                (None, m.id)
                for m in released_messages(session, source.account)
                if m.id not in received
            ]
        for uid, record_id in to_move:
            assert record_id is not None
            self._move(uid, record_id, summary)
        # Messages a dead run left unfinished (or a person released), one at a time, in a
        # fresh reader, before they can take a batch down with them.
        alone: list[tuple[int | None, int | None]] = [*elsewhere]
        # Those never charged first: a neighbour of a poison message is through before
        # the poison gets its next try.
        alone += sorted(
            ((u, r) for u, r in to_process if r in suspects),
            key=lambda item: (received[item[1]].attempts, item[1] or 0),
        )
        for maybe_uid, record_id in alone:
            if self.should_stop():
                return
            assert record_id is not None
            self._process_alone(maybe_uid, record_id, summary)
        to_process = [(u, r) for u, r in to_process if r not in suspects]
        new = [u for u in uids if u not in known]
        relocated: set[int] = set()
        for chunk_start in range(0, len(new), 200):
            chunk = new[chunk_start : chunk_start + 200]
            metas = source.meta(chunk)
            for uid in chunk:
                if self.should_stop():
                    return
                meta = metas.get(uid)
                if meta is None:  # gone meanwhile (another client moved it)
                    continue
                record_id, final, retry = self._record(uid, uidvalidity, meta, relocated, summary)
                if final:
                    self._move(uid, record_id, summary)
                elif retry:
                    self._process_alone(uid, record_id, summary)
                else:
                    to_process.append((uid, record_id))
        ordered = sorted(to_process, key=lambda item: item[1] or 0)
        for start in range(0, len(ordered), policy.batch_size):
            if self.should_stop():
                return
            batch = ordered[start : start + policy.batch_size]
            self._process_batch([(u, r) for u, r in batch if r is not None], summary)

    # -- runs that died, faults of our own ------------------------------------------

    def _recover(self, session: Session) -> None:
        charge_dead_runs(session, self.source.account, self.source.folder)

    def _mark(self, record_ids: Sequence[int], *, alone: bool) -> None:
        mark_in_flight(self.engine, record_ids, alone=alone, now=self.now())
        self._in_flight.update(record_ids)

    def _undo_in_flight(self) -> None:
        ids, self._in_flight = sorted(self._in_flight), set()
        take_back_marks(self.engine, ids)

    def _record(
        self,
        uid: int,
        uidvalidity: int,
        meta: MessageMeta,
        relocated: set[int],
        summary: PollSummary,
    ) -> tuple[int, bool, bool]:
        """Record a new UID (or re-find its message); returns (record id, finished?, alone?)."""
        recorded = record_uid(
            self.source,
            self.engine,
            uid,
            uidvalidity,
            meta,
            relocated,
            policy=self.policy,
            raw_store=self.raw_store,
            now=self.now,
        )
        if recorded.new:
            summary.read += 1
            self.checkpoint("recorded", recorded.record_id)
        elif not recorded.retry:
            summary.skipped += 1
        return recorded.record_id, recorded.finished, recorded.retry

    # -- step 3: process ------------------------------------------------------------

    def _process_alone(self, uid: int | None, record_id: int, summary: PollSummary) -> None:
        """One message on its own: a run that dies now is charged to it alone."""
        if isinstance(self.scanner, ReaderPool):
            self.scanner.renew()  # a fresh reader, nothing left over from its neighbours
        self._mark([record_id], alone=True)
        self.checkpoint("working", record_id)
        self._process_batch([(uid, record_id)], summary, marked=True)

    def _process_batch(
        self, batch: list[tuple[int | None, int]], summary: PollSummary, *, marked: bool = False
    ) -> None:
        if not marked:
            # A run that dies in a batch charges none of it: the unfinished ones are
            # retried alone by the next run (`_recover`).
            self._mark([record_id for _uid, record_id in batch], alone=False)
        works: list[_Work] = []
        for uid, record_id in batch:
            work = self._prepare(uid, record_id, summary)
            if work is not None:
                works.append(work)
        items: list[tuple[bytes, str]] = []
        owners: list[tuple[_Work, int]] = []
        seen_in_batch: set[str] = set()
        with Session(self.engine) as session:
            for work in works:
                assert work.parsed is not None
                for index, att in enumerate(work.parsed.attachments):
                    if att.sha256 in seen_in_batch:
                        continue
                    if first_submission_for_file(session, att.sha256) is not None:
                        continue
                    seen_in_batch.add(att.sha256)
                    work.fresh.append(index)
                    items.append((att.data, att.filename))
                    owners.append((work, index))
        if items:
            start = time.perf_counter()
            results = self.scanner.scan_many(items)
            summary.reading_seconds += time.perf_counter() - start
            for (work, index), result in zip(owners, results, strict=True):
                work.results[index] = result
        for work in works:
            self.checkpoint("scanned", work.record_id)
            self._finish(work, summary)
            self._move(work.uid, work.record_id, summary)

    def _prepare(self, uid: int | None, record_id: int, summary: PollSummary) -> _Work | None:
        """Parse the message; quarantine it here when that fails, or when runs keep dying on it."""
        policy = self.policy
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            attempts, raw_stored, sha, over = (
                record.attempts,
                record.raw_stored,
                record.sha256,
                record.detail,
            )
            # A released message gets one more try, not another three.
            limit = 1 if record.released_at is not None else policy.max_attempts
        if attempts >= limit:
            # English for the operator; workqueue.quarantine matches this wording.
            self._quarantine(
                record_id,
                f"processing stopped {attempts} times before it finished",
                "Meddelandet kunde inte behandlas automatiskt. En handläggare tittar på det.",
                summary,
                code=ReasonCode.KEPT_FAILING,
            )
            self._move(uid, record_id, summary)
            return None
        raw = self.raw_store.get(sha)
        if not raw_stored:
            self._quarantine(
                record_id,
                over or "over the caps",
                over_caps_swedish(over or "", policy.limits),
                summary,
                header=parse_header(raw, own_addresses=(policy.mailbox_address,)),
                code=ReasonCode.OVER_CAPS,
            )
            self._move(uid, record_id, summary)
            return None
        try:
            parsed = parse_message(raw, policy.limits, own_addresses=(policy.mailbox_address,))
        except MessageRejected as exc:
            self._quarantine(
                record_id,
                exc.message,
                exc.customer_message,
                summary,
                header=parse_header(raw, own_addresses=(policy.mailbox_address,)),
                code=ReasonCode.REJECTED,
            )
            self._move(uid, record_id, summary)
            return None
        return _Work(uid, record_id, parsed)

    def _quarantine(
        self,
        record_id: int,
        reason: str,
        customer_reason: str,
        summary: PollSummary,
        *,
        header: HeaderInfo | None = None,
        code: str,
    ) -> None:
        mail: OutboundMail | None = None
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            record.state = MessageState.QUARANTINED
            record.detail = reason[:500]
            record.reason_code = code
            record.reason_sv = customer_reason[:500]
            record.working_since = record.reading_since = None
            record.destination = self.policy.quarantine_folder
            record.processed_at = self.now()
            session.add(record)
            message_id = bracketed(record.message_id)
            if header is not None and may_reply(header):
                mail = queue_rejection(
                    session, record_id, header, customer_reason, policy=self.policy, now=self.now()
                )
            session.commit()
            log.warning(
                "message quarantined: %s",
                reason,
                extra={
                    "event": "message.quarantined",
                    "message_id": message_id,
                    "record_id": record_id,
                    "reason": reason,
                },
            )
            if header is not None:
                log_reply(mail, header, record_id=record_id, message_id=message_id)
        summary.replies += mail is not None
        summary.quarantined += 1
        summary.processed += 1
        self._in_flight.discard(record_id)
        self.checkpoint("committed", record_id)

    def _finish(self, work: _Work, summary: PollSummary) -> None:
        """Attachments, submissions, reply and state: one transaction, logged once committed."""
        assert work.parsed is not None
        parsed, policy = work.parsed, self.policy
        now = self.now()
        report: dict[str, list[dict[str, object]]] = {
            "queued": [],
            "unreadable": [],
            "duplicates": [],
        }
        outcomes: list[Outcome] = []
        mail: OutboundMail | None = None
        with Session(self.engine) as session:
            record = session.get(InboundMessage, work.record_id)
            assert record is not None and record.id is not None
            for index, att in enumerate(parsed.attachments):
                outcome = attachment_outcome(
                    session,
                    record,
                    att,
                    work.results.get(index),
                    intake=self.intake,
                    image_store=self.image_store,
                    min_page_pixels=policy.min_page_pixels,
                    now=now,
                )
                outcomes.append(outcome)
                session.add(attachment_row(record.id, index, att, outcome))
                if outcome.section is not None:
                    report[outcome.section].append(outcome.entry)
            offset = len(parsed.attachments)
            for extra, part in enumerate(parsed.skipped):
                session.add(skipped_row(record.id, offset + extra, part))
            # A reply to our request for what was missing joins the case waiting for it.
            joined = rejoin(session, record, parsed, now=now)
            record.state = MessageState.PROCESSED
            record.destination = policy.processed_folder
            record.processed_at = now
            record.detail = _message_detail(parsed)
            record.working_since = record.reading_since = None
            session.add(record)
            if may_reply(parsed.header):
                mail = queue_reply(
                    session, record, parsed, report, policy=policy, now=now,
                    joined_case=joined.submission_id if joined else None,
                )
            message_id = bracketed(record.message_id)
            session.commit()
            log_rejoined(joined, record_id=work.record_id, message_id=message_id)
            stopped = {i for i, result in work.results.items() if isinstance(result, ReadFailure)}
            log_outcomes(parsed, outcomes, stopped, record_id=work.record_id, message_id=message_id)
            log_reply(mail, parsed.header, record_id=work.record_id, message_id=message_id)
        summary.submissions += sum(outcome.submissions for outcome in outcomes)
        summary.queued += any(o.outcome is AttachmentOutcome.QUEUED for o in outcomes)
        summary.replies += mail is not None
        summary.processed += 1
        self._in_flight.discard(work.record_id)
        self.checkpoint("committed", work.record_id)

    # -- step 4: move ---------------------------------------------------------------

    def _move(self, uid: int | None, record_id: int, summary: PollSummary) -> None:
        if uid is None:
            # Released where it sat, in Quarantine: read from its stored bytes, now filed.
            moved = take_back_released(
                self.source, self.engine, record_id, policy=self.policy, now=self.now
            )
            summary.moved += moved
            return
        move_message(
            self.source,
            self.engine,
            uid,
            record_id,
            policy=self.policy,
            checkpoint=self.checkpoint,
            now=self.now,
        )
        summary.moved += 1


def _message_detail(parsed: ParsedMessage) -> str:
    if parsed.header.auto_generated:
        return f"not answered: {parsed.header.auto_generated}"
    if not parsed.attachments:
        return "no scan attached"
    return f"{len(parsed.attachments)} attachment(s)"
