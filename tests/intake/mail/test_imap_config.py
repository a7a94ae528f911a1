"""intake.mail.imap_config: what cannot work is refused before anything connects."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from intake.mail import ImapConfig, ImapMailbox, MailboxConfigError


def test_plain_text_is_refused_for_a_remote_host_even_when_allowed() -> None:
    config = ImapConfig(
        "mail.example.se", 143, "k", security="plain", password="x", allow_plain_on_loopback=True
    )
    with pytest.raises(MailboxConfigError) as refused:
        config.check()
    assert refused.value.exit_code == 78
    assert "mail.example.se" in refused.value.message
    with pytest.raises(MailboxConfigError):
        ImapMailbox(config)


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"token_command": ("token",)}, "both a password and a token command"),
        ({"password": None}, "neither a password nor a token command"),
        ({"token_command": (), "password": None}, "token command is empty"),
        ({"ca_file": Path("/nonexistent/ca.pem")}, "does not exist"),
        ({"security": "tls"}, "not one of"),
    ],
)
def test_check_names_what_cannot_work(changes: dict[str, object], complaint: str) -> None:
    config = replace(ImapConfig("imap.example.se", 993, "k", password="x"), **changes)  # type: ignore[arg-type]
    with pytest.raises(MailboxConfigError, match=complaint):
        config.check()


def test_account_is_a_stable_key_and_the_password_stays_out_of_repr() -> None:
    config = ImapConfig("IMAP.Example.se", 993, "kopplingar@example.se", password="hemligt")
    assert config.account == "imap://kopplingar%40example.se@imap.example.se:993"
    assert "hemligt" not in repr(config)
