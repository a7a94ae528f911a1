"""Why a mail or an attachment was set aside, as a Swedish sentence for the reviewer pages.

The mailbox pass (`intake.mail`) stores, next to the English `detail` for the
operator, a `reason_code` and, where it has one, the sentence it told the
sender (`reason_sv`) on `InboundMessage` and `InboundAttachment`. The pages
can show `message_reason_sv` and `attachment_reason_sv`: the stored sentence, else the
code's sentence from `REASONS`, else one by state or outcome (rows recorded
before the codes existed). No exception text ever reaches these: it goes to
the log.
"""

from __future__ import annotations

from workqueue.mailmodels import AttachmentOutcome, InboundAttachment, InboundMessage, MessageState

__all__ = ["REASONS", "ReasonCode", "attachment_reason_sv", "message_reason_sv"]


class ReasonCode:
    """The codes the mailbox stores; every one has a sentence in `REASONS`."""

    OVER_CAPS = "message.over_caps"
    REJECTED = "message.rejected"
    KEPT_FAILING = "message.kept_failing"
    DUPLICATE = "attachment.duplicate"
    DUPLICATE_IN_MAIL = "attachment.duplicate_in_mail"
    READ_TIMEOUT = "attachment.read_timeout"
    READ_MEMORY = "attachment.read_memory"
    READ_FAILED = "attachment.read_failed"
    TOO_SMALL = "attachment.too_small"
    UNREADABLE = "attachment.unreadable"
    NOT_A_SCAN = "attachment.not_a_scan"


REASONS: dict[str, str] = {
    ReasonCode.OVER_CAPS: (
        "Meddelandet är större eller mer sammansatt än vad som tas emot; bara dess huvud sparades."
    ),
    ReasonCode.REJECTED: "Meddelandet kunde inte läsas säkert och behandlades inte.",
    ReasonCode.KEPT_FAILING: (
        "Behandlingen av meddelandet avbröts upprepade gånger innan den blev klar, "
        "så det lades åt sidan för att inte stoppa de andra."
    ),
    ReasonCode.DUPLICATE: "Samma fil har redan tagits emot och ligger i kön.",
    ReasonCode.DUPLICATE_IN_MAIL: "Samma fil finns tidigare i samma mejl.",
    ReasonCode.READ_TIMEOUT: "Filen tog för lång tid att läsa maskinellt och kunde inte läsas.",
    ReasonCode.READ_MEMORY: "Filen kräver för mycket minne för att kunna läsas maskinellt.",
    ReasonCode.READ_FAILED: "Filen kunde inte läsas maskinellt: läsningen avbröts av ett fel.",
    ReasonCode.TOO_SMALL: (
        "En bild som är för liten för att vara en inskannad sida (troligen en logotyp)."
    ),
    ReasonCode.UNREADABLE: "Ingen sida i filen kunde läsas.",
    ReasonCode.NOT_A_SCAN: "Filen är inte en PDF eller en bild och lästes inte.",
}

_BY_STATE = {
    MessageState.QUARANTINED: "Meddelandet lades åt sidan för en handläggare.",
    MessageState.RECEIVED: "Meddelandet väntar på att behandlas.",
    MessageState.PROCESSED: "Meddelandet är behandlat.",
}
_BY_OUTCOME = {
    AttachmentOutcome.QUEUED: "Filen ligger i kön.",
    AttachmentOutcome.DUPLICATE: REASONS[ReasonCode.DUPLICATE],
    AttachmentOutcome.REJECTED: "Filen togs inte emot.",
    AttachmentOutcome.IGNORED: REASONS[ReasonCode.TOO_SMALL],
}


def message_reason_sv(message: InboundMessage) -> str:
    """Why `message` is where it is, in Swedish."""
    if message.reason_sv:
        return message.reason_sv
    if message.reason_code in REASONS:
        return REASONS[message.reason_code]
    return _BY_STATE[message.state]


def attachment_reason_sv(attachment: InboundAttachment) -> str:
    """What became of `attachment` and why, in Swedish."""
    if attachment.reason_sv:
        return attachment.reason_sv
    if attachment.reason_code in REASONS:
        return REASONS[attachment.reason_code]
    return _BY_OUTCOME[attachment.outcome]
