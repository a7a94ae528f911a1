"""The back office's work: reviewers, their decisions, and the reviewer pages.

Owns reviewer accounts, passwords, sessions and login throttling (`auth`),
claiming submissions (`claims`), correcting, approving and rejecting them
(`decide`, which applies the linkage in the registry), the mails a decision
queues (`decision_mails`), and the pages under `/granskning/` (`review.web`,
public to the app assembly). The queue and the reviewer tables are
`workqueue`'s. This is the public API; every other module of the package is
private.
"""

from review.auth import (
    AuthError,
    AuthPolicy,
    LoginRefused,
    LoginThrottled,
    ReviewerNotFound,
    WeakPassword,
    authenticate,
    create_reviewer,
    end_all_sessions,
    end_session,
    find_reviewer,
    get_reviewer,
    last_logins,
    set_active,
    set_password,
    start_session,
)
from review.claims import (
    CLAIM_TTL,
    ClaimedByOther,
    DecisionError,
    claim,
    next_unclaimed,
    release,
)
from review.decide import (
    REJECT_REASONS,
    approve,
    correct_field,
    decision_day,
    effective_values,
    open_blocking_findings,
    preview,
    reject,
)
from review.errors import (
    ReviewError,
)

__all__ = [
    "CLAIM_TTL",
    "REJECT_REASONS",
    "AuthError",
    "AuthPolicy",
    "ClaimedByOther",
    "DecisionError",
    "LoginRefused",
    "LoginThrottled",
    "ReviewError",
    "ReviewerNotFound",
    "WeakPassword",
    "approve",
    "authenticate",
    "claim",
    "correct_field",
    "create_reviewer",
    "decision_day",
    "effective_values",
    "end_all_sessions",
    "end_session",
    "find_reviewer",
    "get_reviewer",
    "last_logins",
    "next_unclaimed",
    "open_blocking_findings",
    "preview",
    "reject",
    "release",
    "set_active",
    "set_password",
    "start_session",
]
