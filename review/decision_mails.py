"""The mails a decision queues: who hears of an approval or a rejection, and with what.

An approval tells the firm that changed, the firm already connected (on a
dual connection) and the client, one mail per address; a rejection tells
the mail's sender what was wrong. The mails go to the outbox (`workqueue`)
in the caller's transaction, so they leave only if the decision is
committed. What the mails say is the templates'; this module only picks
the recipients and the context. `review.decide` calls it after deciding.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence

from sqlmodel import Session, col, select

from forms import FormKind, InvalidValue, clean_field, form_spec
from registry import (
    Company,
    ConnectionRole,
    DisconnectionRequest,
    DualConnectionRequest,
    LinkagePlan,
    Person,
    Role,
    RoleKind,
)
from workqueue import (
    InboundMessage,
    Submission,
    deliverable_address,
    queue_mail,
    reply_reference,
)


def inbound_message(session: Session, submission: Submission) -> InboundMessage | None:
    """The mail the submission came in, if it came by mail."""
    if submission.inbound_message_id is None:
        return None
    return session.get(InboundMessage, submission.inbound_message_id)


def _company(session: Session, orgnr: str | None) -> Company | None:
    if not orgnr:
        return None
    return session.exec(select(Company).where(Company.orgnr == orgnr)).first()


def _addresses(session: Session, company: Company, roles: Sequence[RoleKind]) -> list[str]:
    """The e-mail addresses of the company's people holding one of `roles`."""
    rows = session.exec(
        select(Person.email)
        .join(Role, col(Role.person_id) == col(Person.id))
        .where(col(Role.company_id) == company.id, col(Role.role).in_(roles))
        .order_by(col(Person.email))
    ).all()
    return list(dict.fromkeys(rows))


def _payer_from(plan: LinkagePlan) -> dt.date | None:
    """The billing period from which the client pays, when the plan switched the payer."""
    for change in plan.changes:
        if change.action == "payer.changed" and change.after is not None:
            return dt.date.fromisoformat(str(change.after["valid_from"]))
    return None


def _canonical_orgnr(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return clean_field(form_spec(FormKind.DUAL).field("current_firm_orgnr"), value)
    except InvalidValue:
        return None


@dataclasses.dataclass(frozen=True)
class _Mail:
    to: str
    template: str
    context: dict[str, object]


def queue_approval_mails(
    session: Session,
    submission: Submission,
    request: DualConnectionRequest | DisconnectionRequest,
    plan: LinkagePlan,
    *,
    values: Mapping[str, str],
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> None:
    """Queue the mails: the firm that changed, the firm already connected, then the client.

    `values` are the submission's effective values. Each address gets one
    mail, the first in that order that concerns it: a firm's administrator
    who also signs for the client hears as the firm. The mail's sender hears
    as the client unless it is one of the firms' people; whichever mail the
    sender gets is a reply to the mail it sent.
    """
    client = _company(session, request.client_orgnr)
    firm = _company(session, request.firm_orgnr)
    assert client is not None and firm is not None  # the plan had no problems
    common: dict[str, object] = {
        "kind": plan.kind,
        "client_name": client.name,
        "client_orgnr": client.orgnr,
        "role": ConnectionRole(request.role).value,
        "on": request.on,
        "payer_from": _payer_from(plan),
        "form_id": submission.form_id,
        "form_url": form_url,
    }
    firm_context = common | {"firm_name": firm.name, "new_firm_name": None}
    mails: list[_Mail] = []
    firm_people = _addresses(session, firm, [RoleKind.SYSADMIN])
    if isinstance(request, DualConnectionRequest):
        firm_people.append(values.get("new_firm_email", ""))
    mails += [_Mail(a, "approved_firm", firm_context) for a in firm_people]
    if isinstance(request, DualConnectionRequest):
        current = _company(session, _canonical_orgnr(request.current_firm_orgnr))
        if current is not None and current.id not in (firm.id, client.id):
            context = common | {"firm_name": current.name, "new_firm_name": firm.name}
            people = _addresses(session, current, [RoleKind.SYSADMIN])
            mails += [_Mail(a, "approved_firm", context) for a in people]
    client_context = common | {
        "firm_name": firm.name,
        "firm_orgnr": firm.orgnr,
        "takeover": isinstance(request, DisconnectionRequest) and request.takeover,
    }
    client_people = _addresses(session, client, [RoleKind.FIRMATECKNARE, RoleKind.SYSADMIN])
    mails += [_Mail(a, "approved_client", client_context) for a in client_people]
    message = inbound_message(session, submission)
    sender = deliverable_address(message.sender or "") if message is not None else None
    if sender is not None:
        mails.append(_Mail(sender, "approved_client", client_context))

    seen: set[str] = set()
    for mail in mails:
        to = deliverable_address(mail.to)
        if to is None or to in seen:
            continue
        seen.add(to)
        replying = message is not None and to == sender
        queue_mail(
            session,
            to=to,
            template=mail.template,
            context=mail.context,
            sender_domain=sender_domain,
            now=now,
            automatic=False,
            in_reply_to=reply_reference(message.message_id) if replying and message else None,
            inbound_message_id=message.id if replying and message is not None else None,
            submission_id=submission.id,
        )


def queue_rejection_mail(
    session: Session,
    submission: Submission,
    *,
    kind: FormKind | None,
    client_name: str | None,
    reason: str,
    now: dt.datetime,
    form_url: str,
    sender_domain: str,
) -> None:
    """Tell the mail's sender why the form was rejected; nobody to tell when it came as a file."""
    message = inbound_message(session, submission)
    if message is None or not message.sender:
        return
    queue_mail(
        session,
        to=message.sender,
        template="rejected",
        context={
            "original_subject": message.subject,
            "received_at": message.sent_at or message.recorded_at,
            "kind": kind.value if kind else None,
            "form_id": submission.form_id,
            "client_name": client_name,
            "reason": reason,
            "form_url": form_url,
        },
        sender_domain=sender_domain,
        now=now,
        automatic=False,
        in_reply_to=reply_reference(message.message_id),
        inbound_message_id=message.id,
        submission_id=submission.id,
    )
