"""What a mailbox pass is set up with: our address, the folders, the caps and the reply rules.

`MailboxPolicy` is built by whoever runs a pass (from the settings, in
`kopplingar.mailing`) and read by the pass (`intake.mail.mailbox`), the moves (`intake.mail.moves`),
the attachment outcomes (`intake.mail.outcomes`) and the replies
(`intake.mail.replies`); none of them reads settings of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from intake.mail.prescan import MailLimits

__all__ = ["MailboxPolicy"]


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
    # Automatic replies to anyone within an hour; over it they are stored suppressed.
    reply_max_per_hour: int = 200

    @property
    def reply_domain(self) -> str:
        return self.mailbox_address.rsplit("@", 1)[-1]
