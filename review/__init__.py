"""The back office's work: reviewers, their decisions, and the reviewer pages.

Owns reviewer accounts, passwords and login throttling (`auth`, with
`passwords`, `throttle`, `second_factor`), their sessions (`sessions`),
security events (`security`), claiming submissions (`claims`), correcting,
approving and rejecting them (`decide`, which applies the linkage in the
registry; `four_eyes`, the second reviewer an override may need), the mails
a decision queues (`decision_mails`), duplicates and closing one (`duplicates`), the
statistics (`stats`), asking the customer for what is missing and the
reminders while a case waits (`waiting`), and the pages under `/granskning/` (`review.web`,
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
from review.bulk import clean_submissions
from review.claims import (
    CLAIM_TTL,
    ClaimedByOther,
    DecisionError,
    claim,
    next_unclaimed,
    release,
)
from review.deadlines import (
    Deadline,
    deadline,
    due_date,
    overdue_cutoff,
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
from review.duplicates import (
    DuplicateGroup,
    DuplicateMember,
    close_as_duplicate,
    duplicate_groups,
    group_of,
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
from review.stats import (
    Statistics,
    statistics,
)
from review.waiting import (
    INFO_REASONS,
    ReminderReport,
    end_waiting,
    request_info,
    send_reminders,
    signature_parties,
)

__all__ = [
    "BLOCKING_CODES",
    "CLAIM_TTL",
    "DEFAULT_FOUR_EYES",
    "INFO_REASONS",
    "REJECT_REASONS",
    "SECURITY_ACTIONS",
    "Approval",
    "AuthError",
    "AuthPolicy",
    "ClaimedByOther",
    "Deadline",
    "DecisionError",
    "DuplicateGroup",
    "DuplicateMember",
    "LoginRefused",
    "LoginThrottled",
    "OwnOverride",
    "ReminderReport",
    "ReviewError",
    "ReviewerNotFound",
    "StaleOverride",
    "Statistics",
    "WeakPassword",
    "approve",
    "authenticate",
    "check_password",
    "claim",
    "clean_submissions",
    "close_as_duplicate",
    "confirm_override",
    "correct_field",
    "create_reviewer",
    "deadline",
    "decision_day",
    "decline_override",
    "due_date",
    "duplicate_groups",
    "effective_values",
    "end_all_sessions",
    "end_session",
    "end_waiting",
    "find_reviewer",
    "get_reviewer",
    "group_of",
    "guarded_codes",
    "last_logins",
    "next_unclaimed",
    "open_blocking_findings",
    "overdue_cutoff",
    "pending_request",
    "preview",
    "record_security_event",
    "reject",
    "release",
    "remove_second_factor",
    "request_info",
    "send_reminders",
    "set_active",
    "set_password",
    "set_rule",
    "signature_parties",
    "start_session",
    "statistics",
    "withdraw_own",
    "withdraw_stale",
]
