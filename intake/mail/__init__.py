"""The mailbox: messages from IMAP or a folder, recorded, read and moved exactly once.

`types` holds what every mail source shares (`MessageMeta`, `MailSource`,
the mailbox errors); `imap` and `folder` are the two sources, IMAP set up by
`imap_config` and logged in with `tokens` when it uses XOAUTH2; `lock` keeps
one pass per mailbox; `prescan`, `headers`, `sniff` and `parts` turn raw,
untrusted bytes into candidate files (`message` puts them together);
`workers` reads attachments in child processes with time and memory limits;
`mailbox` is the pass itself, set up by a `policy`, with `outcomes` (what
each attachment becomes in the queue), `replies` (the answers to the sender)
and `moves` (moving a finished message on); `watch` repeats the pass. The
scans are read by `intake.scan`. This is the public API; the modules are
private.
"""

from intake.mail.folder import (
    FolderMailbox,
)
from intake.mail.imap import (
    ImapMailbox,
)
from intake.mail.imap_config import (
    ImapConfig,
    Security,
)
from intake.mail.lock import (
    mailbox_lock,
)
from intake.mail.mailbox import (
    Checkpoint,
    MailboxPass,
    PollSummary,
)
from intake.mail.message import (
    MailLimits,
)
from intake.mail.policy import (
    MailboxPolicy,
)
from intake.mail.tokens import (
    TokenProvider,
)
from intake.mail.types import (
    MailboxAuthFailed,
    MailboxBusy,
    MailboxConfigError,
    MailboxError,
    MailboxUnavailable,
    MailSource,
    MessageMeta,
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
