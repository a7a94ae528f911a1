"""The back office's work: reviewers, their decisions, and the reviewer pages.

Owns reviewer accounts, passwords and login throttling (`auth`, with
`passwords`, `throttle`, `second_factor`), their sessions (`sessions`),
security events (`security`), claiming submissions (`claims`), correcting,
approving and rejecting them (`decide`, which applies the linkage in the
registry; `four_eyes`, the second reviewer an override may need), the mails
a decision queues (`decision_mails`), and the pages under `/granskning/` (`review.web`,
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
    check_password,
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
    Approval,
    approve,
    confirm_override,
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
from review.four_eyes import (
    BLOCKING_CODES,
    DEFAULT_FOUR_EYES,
    OwnOverride,
    StaleOverride,
    decline_override,
    guarded_codes,
    pending_request,
    set_rule,
    withdraw_own,
    withdraw_stale,
)
from review.second_factor import (
    remove_second_factor,
)
from review.security import (
    SECURITY_ACTIONS,
    record_security_event,
)

__all__ = [
    "BLOCKING_CODES",
    "CLAIM_TTL",
    "DEFAULT_FOUR_EYES",
    "REJECT_REASONS",
    "SECURITY_ACTIONS",
    "Approval",
    "AuthError",
    "AuthPolicy",
    "ClaimedByOther",
    "DecisionError",
    "LoginRefused",
    "LoginThrottled",
    "OwnOverride",
    "ReviewError",
    "ReviewerNotFound",
    "StaleOverride",
    "WeakPassword",
    "approve",
    "authenticate",
    "check_password",
    "claim",
    "confirm_override",
    "correct_field",
    "create_reviewer",
    "decision_day",
    "decline_override",
    "effective_values",
    "end_all_sessions",
    "end_session",
    "find_reviewer",
    "get_reviewer",
    "guarded_codes",
    "last_logins",
    "next_unclaimed",
    "open_blocking_findings",
    "pending_request",
    "preview",
    "record_security_event",
    "reject",
    "release",
    "remove_second_factor",
    "set_active",
    "set_password",
    "set_rule",
    "start_session",
    "withdraw_own",
    "withdraw_stale",
]
