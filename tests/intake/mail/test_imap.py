"""intake.mail.imap against a real Dovecot: TLS, logins, listing, fetching, moving, IDLE."""

from __future__ import annotations

import hashlib
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from pathlib import Path
from typing import cast

import pytest
from devkit.localmail.certs import make_certificate
from devkit.localmail.dovecot import LocalDovecot
from imapclient import IMAPClient

from intake.mail import ImapConfig
from intake.mail.imap import ImapMailbox, body_shape
from intake.mail.types import (
    MailboxAuthFailed,
    MailboxConfigError,
    MailboxUnavailable,
    MessageGone,
    MessageMeta,
)
from tests.intake.tcpproxy import TcpProxy
from tests.mailboxes import MailboxUser


def _message(subject: str, body: str = "Hej!\n", attachment: bytes | None = None) -> bytes:
    message = EmailMessage()
    message["From"] = "kund@example.se"
    message["To"] = "kopplingar@example.se"
    message["Subject"] = subject
    message.set_content(body)
    if attachment is not None:
        message.add_attachment(
            attachment, maintype="application", subtype="pdf", filename="skanning.pdf"
        )
    return message.as_bytes(policy=policy.SMTP)  # CRLF: what IMAP hands back


def _nested_message() -> bytes:
    """mixed[text, alternative[text, html], message/rfc822[mixed[text, pdf]]]."""
    inner = EmailMessage()
    inner["Subject"] = "Vidarebefordrat"
    inner.set_content("Se bilagan.")
    inner.add_attachment(b"%PDF-1.4 inner", maintype="application", subtype="pdf", filename="a.pdf")
    outer = EmailMessage()
    outer["From"] = "kund@example.se"
    outer["Subject"] = "Formulär"
    outer.set_content("Hej")
    alternative = EmailMessage()
    alternative.set_content("text")
    alternative.add_alternative("<p>html</p>", subtype="html")
    outer.make_mixed()
    outer.attach(alternative)
    outer.add_attachment(inner)
    return outer.as_bytes(policy=policy.SMTP)


def _shape(message: Message, depth: int = 0) -> tuple[int, int]:
    """(leaves, depth) the way the email package sees the same message."""
    children = cast(list[Message], message.get_payload())
    if message.get_content_type() == "message/rfc822":
        return _shape(children[0], depth + 1)
    if message.is_multipart():
        shapes = [_shape(part, depth + 1) for part in children]
        return sum(s[0] for s in shapes), max([depth, *(s[1] for s in shapes)])
    return 1, depth


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _admin(user: MailboxUser) -> IMAPClient:
    """An independent client, as another mail program of the same user."""
    context = ssl.create_default_context(cafile=user.dovecot.ca_file)
    client = IMAPClient(user.dovecot.host, user.dovecot.imaps_port, ssl_context=context, timeout=10)
    client.login(user.username, user.password)
    return client


@pytest.fixture
def mailbox(mailbox_user: MailboxUser) -> Iterator[ImapMailbox]:
    with ImapMailbox(mailbox_user.config()) as opened:
        yield opened


# -- configuration ----------------------------------------------------------------------


def test_plain_text_on_loopback_only_when_allowed(mailbox_user: MailboxUser) -> None:
    mailbox_user.deliver(_message("klartext"))
    refused = mailbox_user.config("plain", allow_plain_on_loopback=False)
    with pytest.raises(MailboxConfigError, match="loopback"):
        ImapMailbox(refused)
    with ImapMailbox(mailbox_user.config("plain")) as mailbox:
        assert len(mailbox.uids()) == 1
    logins = [
        line
        for line in mailbox_user.dovecot.log_file.read_text().splitlines()
        if "Login:" in line and f"user=<{mailbox_user.username}>" in line
    ]
    assert len(logins) == 1 and ", TLS" not in logins[0]  # plain text it was


# -- logins and TLS ---------------------------------------------------------------------


def test_imaps_login_lists_and_fetches_exact_bytes_without_setting_seen(
    mailbox_user: MailboxUser,
) -> None:
    first, second = _message("ett"), _message("två", attachment=b"%PDF-1.4 " + os.urandom(3000))
    mailbox_user.deliver(first)
    mailbox_user.deliver(second)
    with ImapMailbox(mailbox_user.config()) as mailbox:
        uids = mailbox.uids()
        assert len(uids) == 2 and uids == sorted(uids)
        assert mailbox.uidvalidity() > 0
        assert [mailbox.fetch(uid) for uid in uids] == [first, second]
        header = mailbox.fetch_header(uids[1])
        assert second.startswith(header) and header.endswith(b"\r\n\r\n")
    assert all("\\Seen" not in stored.flags for stored in mailbox_user.stored())
    assert (
        mailbox.account
        == f"imap://{mailbox_user.username}@127.0.0.1:{mailbox_user.dovecot.imaps_port}"
    )


def test_starttls_on_the_plain_port(mailbox_user: MailboxUser) -> None:
    raw = _message("starttls")
    mailbox_user.deliver(raw)
    with ImapMailbox(mailbox_user.config("starttls")) as mailbox:
        assert mailbox.config.port == mailbox_user.dovecot.imap_port
        assert [mailbox.fetch(uid) for uid in mailbox.uids()] == [raw]


def test_wrong_password_is_refused_without_retrying(
    mailbox_user: MailboxUser, sleeps: Sleeps
) -> None:
    config = mailbox_user.config(password="fel-lösenord")
    with pytest.raises(MailboxAuthFailed) as refused:
        ImapMailbox(config, sleep=sleeps).open()
    assert refused.value.exit_code == 77
    assert mailbox_user.username in refused.value.message
    assert "fel-lösenord" not in refused.value.message
    assert sleeps.calls == []


@pytest.fixture(scope="module")
def stranger_ca(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA that did not sign the server's certificate."""
    return make_certificate(tmp_path_factory.mktemp("other-ca")).ca_file


@pytest.mark.parametrize("security", ["imaps", "starttls"])
def test_a_certificate_from_an_unknown_ca_is_refused(
    mailbox_user: MailboxUser, stranger_ca: Path, sleeps: Sleeps, security: str
) -> None:
    stranger = stranger_ca
    for ca_file in (None, stranger):  # the system CAs, and a CA that did not sign it
        config = mailbox_user.config(security, ca_file=ca_file)  # type: ignore[arg-type]
        with pytest.raises(MailboxConfigError) as refused:
            ImapMailbox(config, sleep=sleeps).open()
        assert "certificate is not trusted" in refused.value.message
        assert f"127.0.0.1:{config.port}" in refused.value.message
    assert sleeps.calls == []


def test_missing_folder_is_a_configuration_error(mailbox_user: MailboxUser) -> None:
    with pytest.raises(MailboxConfigError, match="folder Saknas does not exist"):
        ImapMailbox(mailbox_user.config(folder="Saknas")).open()


# -- listing and looking ----------------------------------------------------------------


def test_meta_gives_size_parts_and_depth(mailbox_user: MailboxUser) -> None:
    plain, nested = _message("enkel"), _nested_message()
    mailbox_user.deliver(plain)
    mailbox_user.deliver(nested)
    with ImapMailbox(mailbox_user.config()) as mailbox:
        uids = mailbox.uids()
        metas = mailbox.meta(uids)
    parser = BytesParser(policy=policy.default)
    for uid, raw in zip(uids, (plain, nested), strict=True):
        parts, depth = _shape(parser.parsebytes(raw))
        assert metas[uid] == MessageMeta(uid, len(raw), parts, depth)
    assert metas[uids[1]].parts > 1 and metas[uids[1]].depth > 2  # the fixture is what it says


def test_meta_leaves_out_uids_that_are_not_there(mailbox: ImapMailbox) -> None:
    assert mailbox.meta([4711, 4712]) == {}
    assert mailbox.uids() == []


def test_body_shape_walks_deep_nesting_without_recursion() -> None:
    leaf: tuple[object, ...] = (b"text", b"plain", None, None, None, b"7bit", 1, 1)
    node: tuple[object, ...] = leaf
    for _ in range(5000):
        node = (node, b"mixed")
    assert body_shape(node) == (1, 5000)


def test_fetch_of_a_uid_that_is_gone(mailbox: ImapMailbox) -> None:
    with pytest.raises(MessageGone):
        mailbox.fetch(4711)
    with pytest.raises(MessageGone):
        mailbox.move(4711, "Processed")


# -- moving -----------------------------------------------------------------------------


@pytest.mark.parametrize("ignore", [(), ("MOVE",)], ids=["MOVE", "COPY+UID EXPUNGE"])
def test_move_puts_the_message_in_the_folder_exactly_once(
    mailbox_user: MailboxUser, ignore: tuple[str, ...]
) -> None:
    raws = [_message(f"nr {n}") for n in range(3)]
    for raw in raws:
        mailbox_user.deliver(raw)
    with ImapMailbox(mailbox_user.config(), ignore_capabilities=ignore) as mailbox:
        assert ("MOVE" in mailbox.capabilities()) == (ignore == ())
        uids = mailbox.uids()
        mailbox.move(uids[1], "Processed")
        assert mailbox.uids() == [uids[0], uids[2]]
    assert mailbox_user.messages("Processed") == [raws[1]]
    assert mailbox_user.messages("INBOX") == [raws[0], raws[2]]
    assert all(not stored.flags & {"\\Deleted"} for stored in mailbox_user.stored())


def test_take_back_finds_a_message_in_another_folder_by_its_bytes(
    mailbox_user: MailboxUser,
) -> None:
    # A released message is read from its stored bytes; its copy in Quarantine has a
    # UID nobody wrote down, so it is found by size and sha256 and filed.
    raws = [_message(f"nr {n}") for n in range(3)]
    for raw in raws:
        mailbox_user.deliver(raw)
    with ImapMailbox(mailbox_user.config()) as mailbox:
        for uid in mailbox.uids()[:2]:
            mailbox.move(uid, "Quarantine")
        wanted = mailbox_user.messages("Quarantine")[1]
        sha = hashlib.sha256(wanted).hexdigest()
        assert not mailbox.take_back("Quarantine", sha, len(wanted) + 1, "Processed")
        assert mailbox.take_back("Quarantine", sha, len(wanted), "Processed")
        assert not mailbox.take_back("Quarantine", sha, len(wanted), "Processed")  # gone now
        assert len(mailbox.uids()) == 1  # this connection still reads its own folder
    assert mailbox_user.messages("Processed") == [wanted]
    assert len(mailbox_user.messages("Quarantine")) == 1


def test_without_uidplus_a_message_someone_else_marked_deleted_is_never_expunged(
    mailbox_user: MailboxUser,
) -> None:
    raws = [_message(f"nr {n}") for n in range(3)]
    for raw in raws:
        mailbox_user.deliver(raw)
    admin = _admin(mailbox_user)
    admin.select_folder("INBOX")
    marked = admin.search(["ALL"])[0]
    admin.add_flags([marked], [b"\\Deleted"])  # a person, who has not expunged (yet)
    with ImapMailbox(mailbox_user.config(), ignore_capabilities={"MOVE", "UIDPLUS"}) as mailbox:
        ours = mailbox.uids()
        assert marked not in ours
        mailbox.move(ours[0], "Processed")
        assert mailbox.uids() == ours[1:]
        # An EXPUNGE now would take the person's message too: ours only got flagged.
        assert [m.raw for m in mailbox_user.stored()] == raws
        admin.remove_flags([marked], [b"\\Deleted"])  # they changed their mind
        mailbox.move(ours[1], "Processed")  # only ours are \Deleted now: expunged
        assert mailbox.uids() == [marked]
    admin.logout()
    assert mailbox_user.messages("Processed") == raws[1:]
    assert [(m.raw, "\\Deleted" in m.flags) for m in mailbox_user.stored()] == [(raws[0], False)]


def test_without_uidplus_expunges_when_only_ours_is_deleted(mailbox_user: MailboxUser) -> None:
    raws = [_message(f"nr {n}") for n in range(2)]
    for raw in raws:
        mailbox_user.deliver(raw)
    with ImapMailbox(mailbox_user.config(), ignore_capabilities={"MOVE", "UIDPLUS"}) as mailbox:
        mailbox.move(mailbox.uids()[0], "Quarantine")
    assert mailbox_user.messages("Quarantine") == [raws[0]]
    assert mailbox_user.messages("INBOX") == [raws[1]]


def test_ensure_folder_is_idempotent(mailbox_user: MailboxUser) -> None:
    for _ in range(2):
        with ImapMailbox(mailbox_user.config()) as mailbox:
            for name in ("Processed", "Processed", "Arkiv/2026", "Behandlat åäö"):
                mailbox.ensure_folder(name)
    admin = _admin(mailbox_user)
    names = [name for _, _, name in admin.list_folders()]
    admin.logout()
    for name in ("Processed", "Arkiv/2026", "Behandlat åäö"):
        assert names.count(name) == 1


# -- UIDVALIDITY ------------------------------------------------------------------------


def test_uidvalidity_reset_changes_it_and_every_uid(mailbox_user: MailboxUser) -> None:
    raws = [_message(f"nr {n}") for n in range(3)]
    for raw in raws:
        mailbox_user.deliver(raw)
    mailbox = ImapMailbox(mailbox_user.config())
    mailbox.open()
    before, old_uids = mailbox.uidvalidity(), mailbox.uids()
    mailbox_user.dovecot.reset_uidvalidity(mailbox_user.username)
    # The open session is thrown out by Dovecot; reconnecting sees the new numbering.
    with pytest.raises(MailboxUnavailable):
        mailbox.uids()
    mailbox.reconnect()
    after, new_uids = mailbox.uidvalidity(), mailbox.uids()
    assert after != before
    assert len(new_uids) == 3 and not set(new_uids) & set(old_uids)
    assert [mailbox.fetch(uid) for uid in new_uids] == raws
    mailbox.close()


# -- waiting for mail -------------------------------------------------------------------


def test_wait_for_mail_returns_soon_after_a_delivery(
    mailbox_user: MailboxUser, mailbox: ImapMailbox
) -> None:
    timer = threading.Timer(0.3, mailbox_user.deliver, args=(_message("ny"),))
    start = time.monotonic()
    timer.start()
    assert mailbox.wait_for_mail(10) is True
    timer.join()
    assert time.monotonic() - start < 5
    assert len(mailbox.uids()) == 1


def test_wait_for_mail_times_out_with_false(mailbox: ImapMailbox) -> None:
    start = time.monotonic()
    assert mailbox.wait_for_mail(0.5) is False
    assert 0.5 <= time.monotonic() - start < 3
    assert mailbox.uids() == []  # the connection is still good after IDLE


def test_wait_for_mail_sees_mail_that_came_before_it_started(
    mailbox_user: MailboxUser, mailbox: ImapMailbox
) -> None:
    mailbox_user.deliver(_message("mellan två pass"))
    time.sleep(0.2)
    start = time.monotonic()
    assert mailbox.wait_for_mail(10) is True
    assert time.monotonic() - start < 3


def test_without_idle_wait_for_mail_sleeps(mailbox_user: MailboxUser, sleeps: Sleeps) -> None:
    with ImapMailbox(mailbox_user.config(), sleep=sleeps, ignore_capabilities={"IDLE"}) as mailbox:
        assert mailbox.wait_for_mail(42) is False
    assert sleeps.calls == [42]


# -- connections that fail ----------------------------------------------------------------


@pytest.fixture
def proxy(dovecot: LocalDovecot) -> Iterator[TcpProxy]:
    with TcpProxy(dovecot.host, dovecot.imaps_port) as opened:
        yield opened


def test_connection_cut_mid_fetch_then_reconnect(
    mailbox_user: MailboxUser, proxy: TcpProxy
) -> None:
    raw = _message("stor", attachment=os.urandom(300_000))
    mailbox_user.deliver(raw)
    mailbox = ImapMailbox(mailbox_user.config(port=proxy.port))
    mailbox.open()
    uid = mailbox.uids()[0]
    proxy.cut_after(100_000)
    with pytest.raises(MailboxUnavailable) as dropped:
        mailbox.fetch(uid)
    assert f"127.0.0.1:{proxy.port}" in dropped.value.message
    assert f"UID {uid}" in dropped.value.message
    assert proxy.cuts == 1
    with pytest.raises(MailboxUnavailable, match="not connected"):
        mailbox.uids()
    mailbox.reconnect()
    assert mailbox.fetch(uid) == raw
    mailbox.close()


def test_connection_cut_while_idle(mailbox: ImapMailbox, mailbox_user: MailboxUser) -> None:
    with TcpProxy(mailbox_user.dovecot.host, mailbox_user.dovecot.imaps_port) as proxy:
        watcher = ImapMailbox(mailbox_user.config(port=proxy.port))
        watcher.open()
        timer = threading.Timer(0.3, proxy.cut_now)
        timer.start()
        start = time.monotonic()
        with pytest.raises(MailboxUnavailable, match="waiting for new mail"):
            watcher.wait_for_mail(10)
        assert time.monotonic() - start < 5
        watcher.reconnect()
        assert watcher.uids() == []
        watcher.close()


def test_closed_port_is_retried_with_backoff_then_unavailable(sleeps: Sleeps) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = ImapConfig("127.0.0.1", port, "k", password="x", connect_timeout=2)
    with pytest.raises(MailboxUnavailable) as unavailable:
        ImapMailbox(config, retries=2, backoff=0.5, sleep=sleeps).open()
    assert unavailable.value.exit_code == 75
    assert f"127.0.0.1:{port}" in unavailable.value.message
    assert "cannot connect" in unavailable.value.message
    assert sleeps.calls == [0.5, 1.0]


def test_a_server_that_never_greets_times_out(sleeps: Sleeps) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # connects, never says a word
        port = silent.getsockname()[1]
        config = ImapConfig(
            "127.0.0.1", port, "k", security="plain", password="x",
            allow_plain_on_loopback=True, connect_timeout=0.3,
        )  # fmt: skip
        start = time.monotonic()
        with pytest.raises(MailboxUnavailable, match=r"no answer within 0\.3 s"):
            ImapMailbox(config, retries=0, sleep=sleeps).open()
        assert time.monotonic() - start < 3


def test_calls_before_open_say_not_connected(mailbox_user: MailboxUser) -> None:
    mailbox = ImapMailbox(mailbox_user.config())
    with pytest.raises(MailboxUnavailable, match="not connected"):
        mailbox.uids()
    mailbox.close()  # harmless
