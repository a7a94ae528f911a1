"""The outcome of a registry import: counts per record type and every rejected row.

`summary()` is what the CLI prints; a rejected row reads
``file:line — reason`` (or ``file:type[index] — reason`` for JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.errors import RegistryError
from registry.import_files import RecordType


@dataclass(slots=True)
class TypeCounts:
    inserted: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass(frozen=True, slots=True)
class Rejection:
    type: RecordType
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where} — {self.reason}"


@dataclass(slots=True)
class ImportReport:
    """What an import found; `written` says whether the new rows were stored."""

    counts: dict[RecordType, TypeCounts] = field(
        default_factory=lambda: {t: TypeCounts() for t in RecordType}
    )
    rejections: list[Rejection] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.rejections

    @property
    def inserted(self) -> int:
        return sum(c.inserted for c in self.counts.values())

    def summary(self) -> str:
        # Rows that would have been inserted, had nothing been rejected.
        new_label = "valid, new" if self.rejections and not self.written else "inserted"
        lines = [f"{'':<14}{new_label:>11} {'unchanged':>10} {'rejected':>9}"]
        for record_type, c in self.counts.items():
            lines.append(
                f"{record_type.value:<14}{c.inserted:>11} {c.unchanged:>10} {c.rejected:>9}"
            )
        if self.rejections:
            lines.append("")
            lines.append(f"rejected rows ({len(self.rejections)}):")
            lines.extend(f"  {r}" for r in self.rejections)
        lines.append("")
        if self.written:
            lines.append(f"written: {self.inserted} new records")
        elif self.rejections:
            lines.append("nothing written: fix the rejected rows, or import the valid ones "
                         "with --skip-invalid")
        else:
            lines.append("nothing to write: the registry already holds every record")
        return "\n".join(lines)


class ImportRejected(RegistryError):  # noqa: N818
    """An import in which rows were rejected; `report` says which and why."""

    def __init__(self, message: str, report: ImportReport) -> None:
        super().__init__(message)
        self.report = report
