"""Which submissions concern a company, and which came back for an issued form.

A submission concerns a company when one of its `*_orgnr` fields holds the
company's organisationsnummer, as read or as corrected (both are canonical
NNNNNN-NNNN text: the reader and the corrections go through
`forms.clean_field`). The lookup uses the indexes on `submission_fields.value`
and (partial) `corrected_value` (migration review_0012), in a single
statement that also counts.

Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from forms import FORMS, FieldType
from workqueue.models import Submission, SubmissionField

DEFAULT_LIMIT = 50
# Every field that holds an organisationsnummer, on any form.
ORGNR_FIELDS = sorted(
    {f.name for spec in FORMS.values() for f in spec.fields if f.type is FieldType.ORGNR}
)


def submissions_concerning(
    session: Session, orgnr: str, *, limit: int = DEFAULT_LIMIT
) -> tuple[list[Submission], int]:
    """Submissions naming this canonical organisationsnummer in any party's field.

    Newest first, at most `limit`, with how many there are.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    naming = select(SubmissionField.submission_id).where(
        # The value first: it is what rules nearly every row out, and what the indexes find.
        sa.or_(
            col(SubmissionField.value) == orgnr,
            col(SubmissionField.corrected_value) == orgnr,
        ),
        col(SubmissionField.name).in_(ORGNR_FIELDS),
    )
    rows = session.exec(
        select(Submission, func.count().over())
        .where(col(Submission.id).in_(naming))
        .order_by(col(Submission.id).desc())
        .limit(limit)
    ).all()
    if not rows:
        return [], 0
    return [submission for submission, _ in rows], int(rows[0][1])


def submissions_for_forms(
    session: Session, form_ids: Iterable[str]
) -> dict[str, list[Submission]]:
    """The submissions that came back for each of these issued-form ids, oldest first."""
    wanted = sorted(set(form_ids))
    found: dict[str, list[Submission]] = {form_id: [] for form_id in wanted}
    if not wanted:
        return found
    rows = session.exec(
        select(Submission)
        .where(col(Submission.form_id).in_(wanted))
        .order_by(col(Submission.id))
    ).all()
    for submission in rows:
        assert submission.form_id is not None
        found[submission.form_id].append(submission)
    return found
