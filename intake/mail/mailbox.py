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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from intake.mail.imap import MailboxUnavailable, MessageMeta
from intake.mail.message import (
    Attachment,
    HeaderInfo,
    MailLimits,
    MessageRejected,
    ParsedMessage,
    SkippedPart,
    parse_header,
    parse_message,
)
from intake.mail.workers import ReadFailure
from intake.scan import FileResult, IntakeContext, ScannedFile, finish_file, to_new_submissions
from workqueue import (
    AttachmentOutcome,
    ImageStore,
    InboundAttachment,
    InboundMessage,
    MessageState,
    NewFinding,
    NewSubmission,
    OutboundMail,
    enqueue,
    first_submission_for_file,
    message_by_content,
    messages_at,
    note_resent,
    queue_mail,
    unmoved_messages,
)

log = logging.getLogger(__name__)


class MailSource(Protocol):
    """A mailbox folder: `intake.mail.imap.ImapMailbox` or `intake.mail.folder.FolderMailbox`."""

    account: str
    folder: str

    def open(self) -> None: ...
    def close(self) -> None: ...
    def reconnect(self) -> None: ...
    def uidvalidity(self) -> int: ...
    def uids(self) -> list[int]: ...
    def meta(self, uids: Sequence[int]) -> dict[int, MessageMeta]: ...
    def fetch(self, uid: int) -> bytes: ...
    def fetch_header(self, uid: int) -> bytes: ...
    def ensure_folder(self, name: str) -> None: ...
    def move(self, uid: int, folder: str) -> None: ...
    def wait_for_mail(self, seconds: float) -> bool: ...


class Scanner(Protocol):
    """Reads attachments (in child processes): `intake.mail.workers.ReaderPool`."""

    def scan_many(self, items: Sequence[tuple[bytes, str]]) -> list[ScannedFile | ReadFailure]: ...


Checkpoint = Callable[[str, int], None]


def _no_checkpoint(_step: str, _message: int) -> None:
    return None


@dataclass(frozen=True)
class MailboxPolicy:
    mailbox_address: str  # ours: never answered, and the sender of replies
    form_url: str  # where a customer gets a new form
    processed_folder: str = "Processed"
    quarantine_folder: str = "Quarantine"
    limits: MailLimits = field(default_factory=MailLimits)
    max_attempts: int = 3
    batch_size: int = 8
    review_days: int = 2
    # An image whose pages are all smaller than this (short side, pixels) and
    # hold no form is a logo or an icon from a mail signature, not a scan.
    min_page_pixels: int = 400
    reply_interval: dt.timedelta = dt.timedelta(hours=1)

    @property
    def reply_domain(self) -> str:
        return self.mailbox_address.rsplit("@", 1)[-1]


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


@dataclass
class _Outcome:
    outcome: AttachmentOutcome
    detail: str | None
    duplicate_of: int | None = None
    submissions: int = 0
    section: str | None = None  # where the receipt lists it
    entry: dict[str, object] = field(default_factory=dict)


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
                log.warning("connection lost (%s); reconnecting (%d)", exc.message, reconnects)
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
            self._settle_moves(session, uidvalidity, set(uids))
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

    def _settle_moves(self, session: Session, uidvalidity: int, present: set[int]) -> None:
        """Finished messages no longer in the folder were moved by a run that died
        before it could write that down."""
        for record in unmoved_messages(session, self.source.account, self.source.folder):
            if record.uidvalidity != uidvalidity or record.uid not in present:
                record.moved_at = self.now()
                session.add(record)
        session.commit()

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
                _over_caps_swedish(over or "", policy.limits),
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
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            record.state = MessageState.QUARANTINED
            record.detail = reason[:500]
            record.destination = self.policy.quarantine_folder
            record.processed_at = self.now()
            session.add(record)
            if header is not None and self._may_reply(header):
                assert header.sender is not None
                mail = queue_mail(
                    session,
                    to=header.sender,
                    template="message_rejected",
                    context={
                        "mailbox": self.policy.mailbox_address,
                        "original_subject": header.subject or None,
                        "reason": customer_reason,
                        "max_size_mb": self.policy.limits.max_bytes // (1024 * 1024),
                        "max_files": self.policy.limits.max_attachments,
                        "form_url": self.policy.form_url,
                    },
                    sender_domain=self.policy.reply_domain,
                    now=self.now(),
                    in_reply_to=_angle(header.message_id),
                    inbound_message_id=record_id,
                    min_interval=self.policy.reply_interval,
                )
                summary.replies += mail is not None
            session.commit()
        summary.quarantined += 1
        summary.processed += 1
        self.checkpoint("committed", record_id)

    def _may_reply(self, header: HeaderInfo) -> bool:
        return header.sender is not None and header.auto_generated is None

    def _finish(self, work: _Work, summary: PollSummary) -> None:
        """Attachments, submissions, reply and state: one transaction."""
        assert work.parsed is not None
        parsed, policy = work.parsed, self.policy
        now = self.now()
        report: dict[str, list[dict[str, object]]] = {
            "queued": [],
            "unreadable": [],
            "duplicates": [],
        }
        queued_any = False
        with Session(self.engine) as session:
            record = session.get(InboundMessage, work.record_id)
            assert record is not None and record.id is not None
            for index, att in enumerate(parsed.attachments):
                outcome = self._attachment(session, record, att, index, work)
                queued_any = queued_any or outcome.outcome is AttachmentOutcome.QUEUED
                summary.submissions += outcome.submissions
                session.add(
                    InboundAttachment(
                        message_id=record.id,
                        position=index,
                        filename=att.filename[:300],
                        declared_type=att.declared_type[:100],
                        detected_type=att.detected_type[:40],
                        size=len(att.data),
                        sha256=att.sha256,
                        outcome=outcome.outcome,
                        detail=outcome.detail and outcome.detail[:500],
                        duplicate_of_submission=outcome.duplicate_of,
                    )
                )
                if outcome.section is not None:
                    report[outcome.section].append(outcome.entry)
            offset = len(parsed.attachments)
            for extra, part in enumerate(parsed.skipped):
                session.add(_skipped_row(record.id, offset + extra, part))
            record.state = MessageState.PROCESSED
            record.destination = policy.processed_folder
            record.processed_at = now
            record.detail = _message_detail(parsed)
            session.add(record)
            if self._may_reply(parsed.header):
                sent = self._reply(session, record, parsed, report)
                summary.replies += sent is not None
            session.commit()
        summary.processed += 1
        summary.queued += queued_any
        self.checkpoint("committed", work.record_id)

    def _attachment(
        self,
        session: Session,
        record: InboundMessage,
        att: Attachment,
        index: int,
        work: _Work,
    ) -> _Outcome:
        earlier = first_submission_for_file(session, att.sha256)
        if earlier is not None and earlier.id is not None:
            note_resent(session, earlier.id, sender=record.sender, at=self.now())
            return _Outcome(
                AttachmentOutcome.DUPLICATE,
                f"same file as submission {earlier.id}",
                duplicate_of=earlier.id,
                section="duplicates",
                entry={"file": att.filename, "received_on": earlier.created_at},
            )
        result = work.results.get(index)
        if result is None:
            # Not read: the same bytes came earlier in this mail and were queued there.
            return _Outcome(AttachmentOutcome.DUPLICATE, "same file earlier in this mail")
        if isinstance(result, ReadFailure):
            enqueue(
                session,
                self.image_store,
                NewSubmission(
                    source_kind="mail",
                    source_name=att.filename,
                    source_sha256=att.sha256,
                    document_index=0,
                    kind=None,
                    form_id=None,
                    form_version=None,
                    quality_mm=None,
                    pages=[],
                    findings=[
                        NewFinding("file.reader_stopped", "blocking", result.customer_message)
                    ],
                    unreadable_reason=result.message,
                    inbound_message_id=record.id,
                ),
            )
            return _Outcome(
                AttachmentOutcome.QUEUED,
                result.message,
                submissions=1,
                section="unreadable",
                entry={"file": att.filename, "reason": result.customer_message},
            )
        file_result = finish_file(session, result, self.intake)
        if _only_small_images(file_result, self.policy.min_page_pixels):
            return _Outcome(AttachmentOutcome.IGNORED, "an image too small to be a page")
        news = to_new_submissions(file_result, source_kind="mail")
        for new in news:
            enqueue(session, self.image_store, replace(new, inbound_message_id=record.id))
        forms = [
            {
                "kind": doc.kind.value if doc.kind else None,
                "form_id": doc.form_id,
                "pages": doc.pages,
            }
            for doc in file_result.documents
            if doc.unreadable_reason is None
        ]
        if forms:
            return _Outcome(
                AttachmentOutcome.QUEUED,
                None,
                submissions=len(news),
                section="queued",
                entry={"file": att.filename, "forms": forms},
            )
        return _Outcome(
            AttachmentOutcome.QUEUED,
            "no page could be read",
            submissions=len(news),
            section="unreadable",
            entry={"file": att.filename, "reason": _unreadable_reason(file_result)},
        )

    def _reply(
        self,
        session: Session,
        record: InboundMessage,
        parsed: ParsedMessage,
        report: dict[str, list[dict[str, object]]],
    ) -> OutboundMail | None:
        header, policy = parsed.header, self.policy
        assert header.sender is not None
        common: dict[str, object] = {
            "mailbox": policy.mailbox_address,
            "original_subject": header.subject or None,
            "form_url": policy.form_url,
        }
        if not parsed.attachments and not parsed.skipped:
            template, context = "no_attachment", common
        else:
            template = "receipt"
            context = {
                **common,
                **report,
                "received_at": record.sent_at or record.recorded_at,
                "skipped": [
                    {"file": p.filename, "reason": p.customer_reason} for p in parsed.skipped
                ],
                "review_days": policy.review_days,
            }
        return queue_mail(
            session,
            to=header.sender,
            template=template,
            context=context,
            sender_domain=policy.reply_domain,
            now=self.now(),
            in_reply_to=_angle(header.message_id),
            inbound_message_id=record.id,
            min_interval=policy.reply_interval,
        )

    # -- step 4: move ---------------------------------------------------------------

    def _move(self, uid: int, record_id: int, summary: PollSummary) -> None:
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            destination = record.destination or (
                self.policy.quarantine_folder
                if record.state == MessageState.QUARANTINED
                else self.policy.processed_folder
            )
        self.checkpoint("moving", record_id)
        self.source.move(uid, destination)
        self.checkpoint("moved", record_id)
        with Session(self.engine) as session:
            record = session.get(InboundMessage, record_id)
            assert record is not None
            record.moved_at = self.now()
            record.destination = destination
            session.add(record)
            session.commit()
        summary.moved += 1


def _angle(message_id: str | None) -> str | None:
    return f"<{message_id}>" if message_id else None


def _over_caps_swedish(detail: str, limits: MailLimits) -> str:
    if "bytes" in detail:
        mb = limits.max_bytes // (1024 * 1024)
        return (
            f"Meddelandet är större än {mb} MB. Skicka blanketten som en skannad PDF "
            "eller bild i lägre upplösning (200–300 dpi räcker), gärna en blankett per mejl."
        )
    return (
        "Meddelandet har för många delar för att behandlas automatiskt. Skicka bara den "
        "skannade blanketten som bilaga, en blankett per mejl."
    )


def _only_small_images(result: FileResult, min_pixels: int) -> bool:
    if not result.page_images or any(doc.kind is not None for doc in result.documents):
        return False
    return all(min(image.shape[:2]) < min_pixels for image in result.page_images.values())


NOT_OUR_FORM = (
    "Vi hittade ingen av våra blanketter i filen. Använd blanketten du laddar ner från "
    "vår webbplats, och skanna hela sidan så att alla fyra hörnmarkeringar syns."
)
FORM_UNREADABLE = (
    "Blanketten gick inte att läsa. Skanna hela sidan igen i 200–300 dpi, rakt och "
    "utan skuggor, så att alla fyra hörnmarkeringar och QR-koden syns."
)


def _unreadable_reason(result: FileResult) -> str:
    """What the sender is told about a file none of whose pages could be read (Swedish)."""
    for doc in result.documents:
        for finding in doc.findings:
            # These two already speak to the customer; the page reasons are for operators.
            if finding.code in ("file.rejected", "file.blank"):
                return finding.message
    if any(doc.kind is not None for doc in result.documents):
        return FORM_UNREADABLE
    return NOT_OUR_FORM


def _skipped_row(message_id: int, position: int, part: SkippedPart) -> InboundAttachment:
    return InboundAttachment(
        message_id=message_id,
        position=position,
        filename=part.filename[:300],
        declared_type=part.declared_type[:100],
        detected_type=part.detected_type[:40],
        size=0,
        sha256="",
        outcome=AttachmentOutcome.REJECTED,
        detail=part.reason[:500],
    )


def _message_detail(parsed: ParsedMessage) -> str:
    if parsed.header.auto_generated:
        return f"not answered: {parsed.header.auto_generated}"
    if not parsed.attachments:
        return "no scan attached"
    return f"{len(parsed.attachments)} attachment(s)"
