"""The mailbox: messages from IMAP or a folder, recorded, read and moved exactly once.

`types` holds what every mail source shares (`MessageMeta`, `MailSource`,
the mailbox errors); `imap` and `folder` are the two sources; `lock` keeps
one pass per mailbox; `prescan`, `headers`, `sniff` and `parts` turn raw,
untrusted bytes into candidate files (`message` puts them together);
`workers` reads attachments in child processes with time and memory limits;
`mailbox` is the pass itself and `watch` repeats it. The scans are read by
`intake.scan`. This is the public API; the modules are private.
"""

from intake.mail.folder import (
    FolderMailbox,
)
from intake.mail.imap import (
    ImapConfig,
    ImapMailbox,
    MailboxAuthFailed,
    MailboxConfigError,
    MailboxError,
    MailboxUnavailable,
    MessageMeta,
    Security,
    TokenProvider,
)
from intake.mail.lock import (
    MailboxBusy,
    mailbox_lock,
)
from intake.mail.mailbox import (
    Checkpoint,
    MailboxPass,
    MailboxPolicy,
    MailSource,
    PollSummary,
)
from intake.mail.message import (
    MailLimits,
)
from intake.mail.watch import (
    StopWatching,
    WatchState,
    WatchTiming,
    watch,
)
from intake.mail.workers import (
    ChildLimits,
    ReaderPool,
    ReaderSetup,
)

__all__ = [
    "Checkpoint",
    "ChildLimits",
    "FolderMailbox",
    "ImapConfig",
    "ImapMailbox",
    "MailLimits",
    "MailSource",
    "MailboxAuthFailed",
    "MailboxBusy",
    "MailboxConfigError",
    "MailboxError",
    "MailboxPass",
    "MailboxPolicy",
    "MailboxUnavailable",
    "MessageMeta",
    "PollSummary",
    "ReaderPool",
    "ReaderSetup",
    "Security",
    "StopWatching",
    "TokenProvider",
    "WatchState",
    "WatchTiming",
    "mailbox_lock",
    "watch",
]
