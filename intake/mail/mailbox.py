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
moved. Processing is counted (`attempts`), so a message that kills the
poller itself every time is quarantined after `max_attempts` instead of
stopping the mailbox for good. Nothing is deleted, ever.

What each attachment becomes is `intake.mail.outcomes`, the answers to the
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
* `reply.queued` (info): kind (receipt, no_attachment, message_rejected),
  to, state (pending, or suppressed by the rate limit); or `reply.skipped`
  with the reason;
* `message.moved` (info): uid, folder, to_folder; `message.move_settled`
  for a move found done by an earlier run.

A lost connection is `pass.reconnecting` (warning) with the reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from intake.mail.headers import HeaderInfo, bracketed
from intake.mail.message import MessageRejected, ParsedMessage, parse_header, parse_message
from intake.mail.moves import move_message, settle_moves
from intake.mail.outcomes import (
    Outcome,
    attachment_outcome,
    attachment_row,
    log_outcomes,
    skipped_row,
)
from intake.mail.policy import MailboxPolicy
from intake.mail.replies import (
    log_reply,
    may_reply,
    over_caps_swedish,
    queue_rejection,
    queue_reply,
)
from intake.mail.types import MailboxUnavailable, MailSource, MessageMeta
from intake.mail.workers import ReadFailure
from intake.scan import IntakeContext, ScannedFile
from workqueue import (
    AttachmentOutcome,
    ImageStore,
    InboundMessage,
    MessageState,
    OutboundMail,
    first_submission_for_file,
    message_by_content,
    messages_at,
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
    uid: int
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

    def run(self) -> PollSummary:
        summary = PollSummary(self.source.account, self.source.folder)
        start = time.perf_counter()
        reconnects = 0
        while True:
            try:
                self._pass(summary)
                break
            except MailboxUnavailable as exc:
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
            known = messages_at(session, source.account, source.folder, uidvalidity, uids)
            to_move = [(u, m.id) for u, m in known.items() if m.state != MessageState.RECEIVED]
            to_process = [(u, m.id) for u, m in known.items() if m.state == MessageState.RECEIVED]
        for uid, record_id in to_move:
            assert record_id is not None
            self._move(uid, record_id, summary)
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
                record_id, final = self._record(uid, uidvalidity, meta, relocated, summary)
                if final:
                    self._move(uid, record_id, summary)
                else:
                    to_process.append((uid, record_id))
        ordered = sorted(to_process, key=lambda item: item[1] or 0)
        for start in range(0, len(ordered), policy.batch_size):
            if self.should_stop():
                return
            batch = ordered[start : start + policy.batch_size]
            self._process_batch([(u, r) for u, r in batch if r is not None], summary)

    def _over_caps(self, meta: MessageMeta) -> str | None:
        limits = self.policy.limits
        if meta.size > limits.max_bytes:
            return f"message is {meta.size} bytes, over the cap of {limits.max_bytes}"
        if meta.parts > limits.max_parts:
            return f"message has {meta.parts} MIME parts, over the cap of {limits.max_parts}"
        if meta.depth > limits.max_depth:
            return f"message nests {meta.depth} levels deep, over the cap of {limits.max_depth}"
        return None

    def _record(
        self,
        uid: int,
        uidvalidity: int,
        meta: MessageMeta,
        relocated: set[int],
        summary: PollSummary,
    ) -> tuple[int, bool]:
        """Record a new UID (or re-find its message); returns (record id, finished?)."""
        source = self.source
        over = self._over_caps(meta)
        # Only the header of a message over the caps: it is never decoded, and it stays
        # in the mailbox (Quarantine) for a person.
        raw = source.fetch_header(uid) if over else source.fetch(uid)
        sha = hashlib.sha256(raw).hexdigest()
        with Session(self.engine) as session:
            seen = message_by_content(session, source.account, sha)
            if seen is not None and seen.id is not None:
                summary.skipped += 1
                if seen.id not in relocated:
                    # Same bytes under a new UID: a UIDVALIDITY reset, or moved back by hand.
                    seen.folder, seen.uidvalidity, seen.uid = source.folder, uidvalidity, uid
                    seen.moved_at = None
                    session.add(seen)
                    session.commit()
                    relocated.add(seen.id)
                log.info(
                    "UID %d has the bytes of a message recorded before",
                    uid,
                    extra={
                        "event": "message.seen_before",
                        "message_id": bracketed(seen.message_id),
                        "record_id": seen.id,
                        "uid": uid,
                        "folder": source.folder,
                        "uidvalidity": uidvalidity,
                        "sha256": sha,
                        "state": seen.state.value,
                    },
                )
                return seen.id, seen.state != MessageState.RECEIVED
            self.raw_store.put(raw)
            # parse_header reads only the header block (capped), and never raises.
            header = parse_header(raw, own_addresses=(self.policy.mailbox_address,))
            record = InboundMessage(
                account=source.account,
                folder=source.folder,
                uidvalidity=uidvalidity,
                uid=uid,
                source_key=getattr(source, "key", lambda _u: None)(uid),
                message_id=header.message_id,
                sha256=sha,
                size=meta.size,
                raw_stored=over is None,
                sender=header.sender,
                subject=header.subject[:500],
                sent_at=header.sent_at,
                recorded_at=self.now(),
                state=MessageState.RECEIVED,
                detail=over,
            )
            session.add(record)
            session.commit()
            assert record.id is not None
            summary.read += 1
            log.info(
                "UID %d of %s recorded",
                uid,
                source.folder,
                extra={
                    "event": "message.recorded",
                    "message_id": bracketed(header.message_id),
                    "record_id": record.id,
                    "uid": uid,
                    "folder": source.folder,
                    "uidvalidity": uidvalidity,
                    "sha256": sha,
                    "size": meta.size,
                    "sender": header.sender,
                },
            )
            self.checkpoint("recorded", record.id)
            return record.id, False

    # -- step 3: process ------------------------------------------------------------

    def _process_batch(self, batch: list[tuple[int, int]], summary: PollSummary) -> None:
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

    def _prepare(self, uid: int, record_id: int, summary: PollSummary) -> _Work | None:
        """Count the attempt, parse the message; quarantine it here when that fails."""
        policy = self.policy
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            record.attempts += 1
            session.add(record)
            session.commit()
            attempts, raw_stored, sha, over = (
                record.attempts,
                record.raw_stored,
                record.sha256,
                record.detail,
            )
        if attempts > policy.max_attempts:
            self._quarantine(
                record_id,
                f"processing stopped {attempts - 1} times before it finished",
                "Meddelandet kunde inte behandlas automatiskt. En handläggare tittar på det.",
                summary,
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
    ) -> None:
        mail: OutboundMail | None = None
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            record.state = MessageState.QUARANTINED
            record.detail = reason[:500]
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
            record.state = MessageState.PROCESSED
            record.destination = policy.processed_folder
            record.processed_at = now
            record.detail = _message_detail(parsed)
            session.add(record)
            if may_reply(parsed.header):
                mail = queue_reply(session, record, parsed, report, policy=policy, now=now)
            message_id = bracketed(record.message_id)
            session.commit()
            stopped = {i for i, result in work.results.items() if isinstance(result, ReadFailure)}
            log_outcomes(parsed, outcomes, stopped, record_id=work.record_id, message_id=message_id)
            log_reply(mail, parsed.header, record_id=work.record_id, message_id=message_id)
        summary.submissions += sum(outcome.submissions for outcome in outcomes)
        summary.queued += any(o.outcome is AttachmentOutcome.QUEUED for o in outcomes)
        summary.replies += mail is not None
        summary.processed += 1
        self.checkpoint("committed", work.record_id)

    # -- step 4: move ---------------------------------------------------------------

    def _move(self, uid: int, record_id: int, summary: PollSummary) -> None:
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
