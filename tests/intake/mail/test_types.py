"""intake.mail.types: every mailbox error is an intake error, with the exit code cron needs."""

from __future__ import annotations

from intake.mail.types import (
    MailboxAuthFailed,
    MailboxBusy,
    MailboxConfigError,
    MailboxError,
    MailboxUnavailable,
    MessageGone,
)


def test_every_mailbox_error_is_an_intake_error() -> None:
    from intake import IntakeError

    for error in (MailboxUnavailable, MailboxAuthFailed, MailboxConfigError, MessageGone):
        assert issubclass(error, MailboxError) and issubclass(error, IntakeError)


def test_exit_codes_say_whether_to_try_again() -> None:
    # 75: cron tries again next time; 77 and 78 need a person first.
    assert MailboxError("x").exit_code == 75
    assert MailboxUnavailable("x").exit_code == MessageGone("x").exit_code == 75
    assert MailboxBusy("x").exit_code == 75
    assert MailboxAuthFailed("x").exit_code == 77
    assert MailboxConfigError("x").exit_code == 78
