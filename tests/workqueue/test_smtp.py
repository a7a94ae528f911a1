"""SmtpSender against real servers: the local aiosmtpd relay over verified TLS, odd sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from devkit.localmail.certs import make_certificate
from devkit.localmail.smtp import ALL, LocalSmtp

from workqueue import (
    SmtpConfig,
    SmtpConfigError,
    SmtpError,
    SmtpRejected,
    SmtpSender,
    SmtpUnavailable,
)


@pytest.fixture(scope="session")
def smtp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One certificate for every server of the session (make_certificate reuses it).
    return tmp_path_factory.getbasetemp() / "localsmtp"


@pytest.fixture
def relay(smtp_root: Path) -> Iterator[LocalSmtp]:
    with LocalSmtp(smtp_root) as server:
        yield server


def message(to: str = "kund@example.se", subject: str = "Blankett mottagen") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "kopplingar@example.se"
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content("Hej!\n\nVi har tagit emot din blankett för bortkoppling.\n")
    return msg


def test_sends_over_verified_starttls_on_one_connection(relay: LocalSmtp) -> None:
    with SmtpSender(relay.config()) as sender:
        sender.send(message("a@example.se", "Första"))
        sender.send(message("b@example.se", "Andra – åäö"))
    received = relay.received
    assert [r.rcpt_tos for r in received] == [("a@example.se",), ("b@example.se",)]
    assert [r.message["Subject"] for r in received] == ["Första", "Andra – åäö"]
    assert received[1].message.get_content() == (
        "Hej!\n\nVi har tagit emot din blankett för bortkoppling.\n"
    )
    assert received[0].mail_from == "kopplingar@example.se"
    relay.clear()
    assert relay.messages == []


def test_an_empty_batch_never_connects(smtp_root: Path) -> None:
    down = LocalSmtp(smtp_root)  # never started: nothing listens on its port
    with SmtpSender(SmtpConfig(host="127.0.0.1", port=9, ca_file=down.ca_file)):
        pass


def test_a_server_with_another_certificate_authority_is_refused(
    relay: LocalSmtp, tmp_path: Path
) -> None:
    stranger = make_certificate(tmp_path / "other-ca")
    config = SmtpConfig(host=relay.host, port=relay.port, ca_file=stranger.ca_file, timeout=5)
    with SmtpSender(config) as sender, pytest.raises(SmtpUnavailable, match="CERTIFICATE"):
        sender.send(message())
    assert relay.messages == []


def test_implicit_tls_smtps(smtp_root: Path) -> None:
    with LocalSmtp(smtp_root, implicit_tls=True) as server:
        assert server.config().security == "smtps"
        with SmtpSender(server.config()) as sender:
            sender.send(message())
        assert len(server.wait_for(1)) == 1


def test_smtps_to_a_starttls_port_is_unavailable_not_sent_in_clear(relay: LocalSmtp) -> None:
    config = SmtpConfig(
        host=relay.host, port=relay.port, security="smtps", ca_file=relay.ca_file, timeout=5
    )
    with SmtpSender(config) as sender, pytest.raises(SmtpUnavailable):
        sender.send(message())
    assert relay.messages == []


def test_plain_is_only_for_an_allowed_loopback_relay(smtp_root: Path) -> None:
    with LocalSmtp(smtp_root, require_starttls=False) as server:
        config = SmtpConfig(
            host=server.host, port=server.port, security="plain", allow_plain_on_loopback=True
        )
        with SmtpSender(config) as sender:
            sender.send(message())
        assert len(server.messages) == 1


def test_starttls_required_but_not_offered_refuses_to_send_in_clear(smtp_root: Path) -> None:
    class Sink:
        async def handle_DATA(self, *_args: Any) -> str:  # noqa: N802
            raise AssertionError("a message was sent without TLS")

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    controller = Controller(Sink(), hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    try:
        config = SmtpConfig(host="127.0.0.1", port=port, ca_file=LocalSmtp(smtp_root).ca_file)
        with SmtpSender(config) as sender, pytest.raises(SmtpUnavailable, match="STARTTLS"):
            sender.send(message())
    finally:
        controller.stop()


def test_permanent_refusal_is_rejected_and_the_connection_goes_on(relay: LocalSmtp) -> None:
    relay.refuse("gone@example.se", 550)
    with SmtpSender(relay.config()) as sender:
        with pytest.raises(SmtpRejected) as refused:
            sender.send(message("gone@example.se"))
        assert refused.value.permanent
        assert refused.value.code == 550
        assert "550" in refused.value.message
        sender.send(message("here@example.se"))
    assert [r.rcpt_tos for r in relay.received] == [("here@example.se",)]


def test_temporary_refusal_is_unavailable(relay: LocalSmtp) -> None:
    relay.refuse(ALL, 451)
    with SmtpSender(relay.config()) as sender, pytest.raises(SmtpUnavailable) as later:
        sender.send(message())
    assert not later.value.permanent
    assert later.value.code == 451
    relay.accept_all()
    with SmtpSender(relay.config()) as sender:
        sender.send(message())
    assert len(relay.messages) == 1


def test_server_down_then_back_reconnects(relay: LocalSmtp) -> None:
    with SmtpSender(relay.config()) as sender:
        sender.send(message("a@example.se"))
        relay.stop()
        with pytest.raises(SmtpUnavailable):
            sender.send(message("b@example.se"))  # the old connection is gone
        with pytest.raises(SmtpUnavailable, match="cannot talk"):
            sender.send(message("b@example.se"))  # and nobody listens
        relay.start()
        sender.send(message("c@example.se"))
    assert [r.rcpt_tos for r in relay.received] == [("a@example.se",), ("c@example.se",)]


def test_a_silent_server_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections, never says hello
        port = silent.getsockname()[1]
        config = SmtpConfig(host="127.0.0.1", port=port, timeout=0.3)
        with SmtpSender(config) as sender, pytest.raises(SmtpUnavailable, match="timed out"):
            sender.send(message())


def test_login_and_wrong_credentials(smtp_root: Path) -> None:
    with LocalSmtp(smtp_root, credentials=("kopplingar", "hemligt")) as server:
        with SmtpSender(server.config()) as sender:
            sender.send(message())
        assert len(server.messages) == 1
        wrong = SmtpConfig(
            host=server.host,
            port=server.port,
            username="kopplingar",
            password="fel",
            ca_file=server.ca_file,
            local_hostname="localhost",
        )
        with SmtpSender(wrong) as sender, pytest.raises(SmtpConfigError) as refused:
            sender.send(message())
        assert refused.value.exit_code == 78
        assert len(server.messages) == 1


def test_exit_codes() -> None:
    assert SmtpError("x").exit_code == 75
    assert SmtpUnavailable("x").exit_code == 75
    assert SmtpConfigError("x").exit_code == 78
    assert SmtpRejected("x").permanent and not SmtpUnavailable("x").permanent


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"security": "plain"}, "unencrypted"),
        ({"security": "plain", "host": "10.0.0.5", "allow_plain_on_loopback": True}, "loopback"),
        (
            {"security": "plain", "host": "mail.example.se", "allow_plain_on_loopback": True},
            "plain",
        ),
        ({"security": "ssl"}, "security"),
        ({"host": "mail.example.se\r\nRCPT TO:<x@y.se>"}, "host"),
        ({"host": ""}, "host"),
        ({"port": 0}, "port"),
        ({"port": 70000}, "port"),
        ({"username": "kopplingar"}, "password"),
        ({"password": "hemligt"}, "password"),
        ({"username": "kopplingar", "password": "lösenord"}, "ASCII"),
        ({"ca_file": Path("/nonexistent/ca.pem")}, "CA file"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_unsafe_or_wrong_config_is_refused_before_connecting(
    changes: dict[str, Any], complaint: str
) -> None:
    values: dict[str, Any] = {"host": "mail.example.se", "port": 587} | changes
    config = SmtpConfig(**values)
    with pytest.raises(SmtpConfigError, match=complaint) as refused:
        config.check()
    assert refused.value.exit_code == 78
    with pytest.raises(SmtpConfigError):
        SmtpSender(config)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1.2.3", "::1", "localhost"])
def test_plain_on_loopback_passes_the_check_when_allowed(host: str) -> None:
    SmtpConfig(host=host, port=25, security="plain", allow_plain_on_loopback=True).check()
    SmtpConfig(host="mail.example.se", port=465, security="smtps").check()
