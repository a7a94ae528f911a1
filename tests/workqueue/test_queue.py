"""The queue's schema and the API intake uses: enqueue, duplicates, counts, the image store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine
from sqlmodel import Session, select

from kopplingar.database import upgrade_all
from registry import REGISTRY_METADATA
from workqueue import (
    QUEUE_METADATA,
    ImageStore,
    NewField,
    NewFinding,
    NewPage,
    NewSignature,
    NewSubmission,
    QueueError,
    Submission,
    SubmissionField,
    SubmissionFinding,
    SubmissionPage,
    SubmissionStatus,
    enqueue,
    form_id_submitted,
    queue_counts,
)


def test_migrated_schema_matches_registry_and_queue_models(engine: Engine) -> None:
    combined = sa.MetaData()
    for metadata in (REGISTRY_METADATA, QUEUE_METADATA):
        for table in metadata.tables.values():
            table.to_metadata(combined)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, type_, _parent: not (
                    type_ == "table" and (name or "").startswith("alembic_version")
                ),
            },
        )
        assert compare_metadata(context, combined) == []


def test_upgrade_all_is_idempotent(engine: Engine) -> None:
    again = upgrade_all(engine)
    assert [(name, before == after) for name, before, after in again] == [
        ("registry", True),
        ("workqueue", True),
    ]


def new_submission(**kw: object) -> NewSubmission:
    base: dict[str, object] = {
        "source_kind": "file",
        "source_name": "skanning.pdf",
        "source_sha256": hashlib.sha256(b"file").hexdigest(),
        "document_index": 0,
        "kind": "dual",
        "form_id": "7K3QX9P2MD",
        "form_version": "2026.1",
        "quality_mm": 0.21,
        "pages": [NewPage(source_page=0, image=b"page-image", aligned=b"aligned-image")],
        "fields": [
            NewField("client_orgnr", "556677-8899", "5566778899", 0.97, crop=b"crop-a"),
            NewField("client_subscription", "10040582", "1004O582", 0.61, crop=b"crop-b"),
        ],
        "signatures": [NewSignature("client", "signed", 0.08, crop=b"sig")],
        "findings": [
            NewFinding("signature.missing", "blocking", "Underskrift saknas.", None),
            NewFinding("ocr.low_confidence", "warning", "Kontrollera.", "client_subscription"),
        ],
    }
    base.update(kw)
    return NewSubmission(**base)  # type: ignore[arg-type]


def test_enqueue_stores_rows_and_images(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    with Session(engine) as session:
        sub = enqueue(session, store, new_submission())
        session.commit()
        sid = sub.id
    with Session(engine) as session:
        got = session.get(Submission, sid)
        assert got is not None
        assert got.status is SubmissionStatus.QUEUED
        assert got.min_confidence == pytest.approx(0.61)
        assert (got.blocking_findings, got.warning_findings) == (1, 1)
        pages = session.exec(
            select(SubmissionPage).where(SubmissionPage.submission_id == sid)
        ).all()
        assert store.get(pages[0].image_sha256) == b"page-image"
        fields = session.exec(
            select(SubmissionField).where(SubmissionField.submission_id == sid)
        ).all()
        assert {f.name: f.raw for f in fields}["client_subscription"] == "1004O582"
        codes = session.exec(
            select(SubmissionFinding.code).where(SubmissionFinding.submission_id == sid)
        ).all()
        assert sorted(codes) == ["ocr.low_confidence", "signature.missing"]
        assert form_id_submitted(session, "7K3QX9P2MD")
        assert not form_id_submitted(session, "0000000000")


def test_unreadable_submission_keeps_reason_and_page(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    with Session(engine) as session:
        enqueue(
            session,
            store,
            new_submission(
                kind=None,
                form_id=None,
                fields=[],
                signatures=[],
                findings=[],
                unreadable_reason="no fiducials and no QR code found",
            ),
        )
        enqueue(session, store, new_submission(form_id="1111111111"))
        session.commit()
        assert queue_counts(session) == {"unreadable": 1, "queued": 1}
        unreadable = session.exec(
            select(Submission).where(Submission.status == SubmissionStatus.UNREADABLE)
        ).one()
        assert unreadable.unreadable_reason == "no fiducials and no QR code found"
        assert unreadable.min_confidence is None


def test_nothing_is_visible_without_commit(engine: Engine, tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    with Session(engine) as session:
        enqueue(session, store, new_submission())
        session.rollback()
    with Session(engine) as session:
        assert queue_counts(session) == {}


def test_store_is_content_addressed_and_atomic(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    sha = store.put(b"abc")
    assert sha == hashlib.sha256(b"abc").hexdigest()
    assert store.put(b"abc") == sha
    assert sha in store and store.get(sha) == b"abc"
    assert not list(tmp_path.rglob(".tmp-*"))
    with pytest.raises(QueueError, match="missing"):
        store.get(hashlib.sha256(b"other").hexdigest())
    with pytest.raises(QueueError, match="not a sha256"):
        store.path("../../etc/passwd")


def test_upgrading_a_queue_with_submissions_in_it(db_url: str, tmp_path: Path) -> None:
    """SQLite copies a table to alter it; rows pointing at it must survive, in one transaction."""
    from registry import make_engine, upgrade_database, upgrade_migrations
    from workqueue import MIGRATIONS_DIR, VERSION_TABLE

    engine = make_engine(db_url)
    upgrade_database(engine)
    upgrade_migrations(
        engine, script_location=MIGRATIONS_DIR, version_table=VERSION_TABLE, target="review_0002"
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO submissions (id, created_at, status, source_kind, source_name, "
                "source_sha256, document_index, blocking_findings, warning_findings) VALUES "
                "(1, '2026-01-20 10:00:00', 'queued', 'mail', 'a.pdf', :sha, 0, 0, 0)"
            ),
            {"sha": "a" * 64},
        )
        conn.execute(
            sa.text(
                "INSERT INTO submission_pages (submission_id, position, source_page, image_sha256)"
                " VALUES (1, 0, 0, :sha)"
            ),
            {"sha": "b" * 64},
        )
    assert upgrade_all(engine)[-1][:2] == ("workqueue", "review_0002")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM submission_pages")).scalar() == 1
        assert conn.execute(sa.text("SELECT claimed_by FROM submissions")).scalar() is None
        tables = sa.inspect(conn).get_table_names()
    assert not [t for t in tables if t.startswith("_alembic_tmp")]
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
