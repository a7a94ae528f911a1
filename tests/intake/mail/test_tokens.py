"""intake.mail.tokens: XOAUTH2 tokens from a command, kept, refused and replaced; and the
IMAP login with them against a real Dovecot."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from devkit.localmail.dovecot import LocalDovecot

from intake.mail import (
    ImapMailbox,
    MailboxAuthFailed,
    MailboxConfigError,
    MailboxError,
    MailboxUnavailable,
    TokenProvider,
)
from tests.mailboxes import MailboxUser

# -- access tokens ----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token_command(tmp_path: Path, outputs: list[str], exit_code: int = 0) -> list[str]:
    """A script printing outputs[n] on its n-th run (the last one after that); counts runs."""
    script = tmp_path / "token.py"
    script.write_text(
        "import json, pathlib, sys\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "n = int(runs.read_text()) if runs.exists() else 0\n"
        "runs.write_text(str(n + 1))\n"
        f"outputs = {outputs!r}\n"
        "print(outputs[min(n, len(outputs) - 1)])\n"
        "print('token helper says hello', file=sys.stderr)\n"
        f"sys.exit({exit_code})\n"
    )
    return [sys.executable, str(script)]


def _runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_token_from_json_is_cached_until_shortly_before_expiry(tmp_path: Path) -> None:
    clock = Clock()
    command = _token_command(
        tmp_path, ['{"access_token": "first", "expires_in": 600}', '{"access_token": "second"}']
    )
    tokens = TokenProvider(command, clock=clock)
    assert tokens.token() == "first"
    clock.now += 600 - 61
    assert tokens.token() == "first"
    assert _runs(tmp_path) == 1
    clock.now += 2  # within the last minute
    assert tokens.token() == "second"
    assert _runs(tmp_path) == 2


def test_bare_token_lives_fifty_minutes_and_invalidate_forces_a_new_one(tmp_path: Path) -> None:
    clock = Clock()
    tokens = TokenProvider(_token_command(tmp_path, ["bare-1", "bare-2", "bare-3"]), clock=clock)
    assert tokens.token() == "bare-1"
    clock.now += 50 * 60 - 61
    assert tokens.token() == "bare-1"
    clock.now += 2
    assert tokens.token() == "bare-2"
    tokens.invalidate()
    assert tokens.token() == "bare-3"
    assert _runs(tmp_path) == 3


def test_failing_token_command_is_an_auth_failure_with_its_stderr(tmp_path: Path) -> None:
    tokens = TokenProvider(_token_command(tmp_path, ["secret-token"], exit_code=3))
    with pytest.raises(MailboxAuthFailed) as failed:
        tokens.token()
    assert "exit code 3" in failed.value.message
    assert "token helper says hello" in failed.value.message
    assert "secret-token" not in failed.value.message


@pytest.mark.parametrize(
    ("outputs", "error", "complaint"),
    [
        ([""], MailboxAuthFailed, "no token"),
        (["{broken"], MailboxConfigError, "broken"),
        (['{"token": "x"}'], MailboxConfigError, "without access_token"),
        (["two words"], MailboxConfigError, "more than one"),
    ],
)
def test_unusable_token_output(
    tmp_path: Path, outputs: list[str], error: type[MailboxError], complaint: str
) -> None:
    with pytest.raises(error, match=complaint):
        TokenProvider(_token_command(tmp_path, outputs)).token()


def test_missing_or_hanging_token_command(tmp_path: Path) -> None:
    with pytest.raises(MailboxConfigError, match="not found"):
        TokenProvider([str(tmp_path / "nowhere")]).token()
    hanging = TokenProvider([sys.executable, "-c", "import time; time.sleep(10)"], timeout=0.3)
    with pytest.raises(MailboxUnavailable, match="no token within"):
        hanging.token()


def test_xoauth2_login_with_a_token_command(
    mailbox_user: MailboxUser, dovecot: LocalDovecot, tmp_path: Path
) -> None:
    mailbox_user.deliver(b"From: kund@example.se\r\nSubject: oauth\r\n\r\nHej!\r\n")
    token = dovecot.grant_token(mailbox_user.username)
    config = dovecot.oauth_config(mailbox_user.username, _token_command(tmp_path, [token]))
    asked = dovecot.introspections
    with ImapMailbox(config) as mailbox:
        assert len(mailbox.uids()) == 1
    assert dovecot.introspections == asked + 1
    assert _runs(tmp_path) == 1


def test_refused_token_is_replaced_by_a_fresh_one_once(
    mailbox_user: MailboxUser, dovecot: LocalDovecot, tmp_path: Path
) -> None:
    stale = dovecot.grant_token(mailbox_user.username)
    dovecot.revoke_token(stale)  # expired at the provider before its expires_in said so
    fresh = dovecot.grant_token(mailbox_user.username)
    command = _token_command(
        tmp_path,
        [f'{{"access_token": "{stale}", "expires_in": 3600}}', fresh],
    )
    config = dovecot.oauth_config(mailbox_user.username, command)
    with ImapMailbox(config) as mailbox:
        assert mailbox.uids() == []
    assert _runs(tmp_path) == 2


def test_token_refused_twice_is_an_auth_failure(
    mailbox_user: MailboxUser, dovecot: LocalDovecot, tmp_path: Path
) -> None:
    config = dovecot.oauth_config(mailbox_user.username, _token_command(tmp_path, ["ogiltig"]))
    sleeps: list[float] = []
    with pytest.raises(MailboxAuthFailed, match="fresh access token"):
        ImapMailbox(config, sleep=sleeps.append).open()
    assert _runs(tmp_path) == 2
    assert sleeps == []
