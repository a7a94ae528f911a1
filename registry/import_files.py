"""Reading registry import files (JSON or CSV) into rows, each with where it came from.

This module knows the file formats only; what a value must look like and how
rows refer to each other is checked in `registry.importer`.

Record types and their fields (`?` marks an optional field; dates are
ISO ``YYYY-MM-DD``; a company is referred to by its organisationsnummer, a
person by e-mail, a subscription by its number):

=============  ==========================================================
companies      orgnr, name, kind (client | accounting_firm | audit_firm)
subscriptions  number, orgnr (of the company it belongs to)
people         email, name, personnummer?
roles          person, company, role (sysadmin | program_admin |
               firmatecknare | consultant)
connections    client, firm, role (accounting | audit), since, until?
payers         subscription, payer, from
exclusions     firm (orgnr of a firm the digital disconnection is not
               offered to), note?
=============  ==========================================================

JSON: one object whose keys are record types (all optional), each a list of
objects with the fields above as strings (`null` or absent for an optional
field). A row is located as ``file:type[index]``, e.g.
``registry.json:companies[3]``.

CSV: one record type per file, recognised by its header row: the header must
hold exactly that type's fields (optional ones may be left out), in any
order, case-insensitive. Comma or semicolon separated (the delimiter of the
header row is used), UTF-8 with or without a byte-order mark; blank lines are
skipped; an empty cell is an absent value. A row is located as ``file:line``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from registry.errors import ImportFileError, NotFound


class RecordType(StrEnum):
    COMPANIES = "companies"
    SUBSCRIPTIONS = "subscriptions"
    PEOPLE = "people"
    ROLES = "roles"
    CONNECTIONS = "connections"
    PAYERS = "payers"
    EXCLUSIONS = "exclusions"


# (required, optional) fields per record type; the order is the CSV column order.
FIELDS: dict[RecordType, tuple[tuple[str, ...], tuple[str, ...]]] = {
    RecordType.COMPANIES: (("orgnr", "name", "kind"), ()),
    RecordType.SUBSCRIPTIONS: (("number", "orgnr"), ()),
    RecordType.PEOPLE: (("email", "name"), ("personnummer",)),
    RecordType.ROLES: (("person", "company", "role"), ()),
    RecordType.CONNECTIONS: (("client", "firm", "role", "since"), ("until",)),
    RecordType.PAYERS: (("subscription", "payer", "from"), ()),
    RecordType.EXCLUSIONS: (("firm",), ("note",)),
}
# Listed in an import's report only when its files have rows of them, so that the
# report of an import without them reads as it always did.
OPTIONAL_TYPES = frozenset({RecordType.EXCLUSIONS})


@dataclass(frozen=True, slots=True)
class RawRow:
    """One record as read: its type, where it is, its values, or what made it unreadable."""

    type: RecordType
    where: str
    values: Mapping[str, str | None]
    problem: str | None = None


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """The files to read: each path itself, or a directory's *.json and *.csv files."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".json", ".csv"))
            if not found:
                raise NotFound(f"no .json or .csv files in {path}")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise NotFound(f"no such file: {path}")
    return files


def read_rows(path: Path) -> list[RawRow]:
    """All rows of one import file; a file that is unreadable as a whole raises."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except OSError as exc:
        raise NotFound(f"cannot read {path}: {exc.strerror}") from exc
    if path.suffix.lower() == ".json":
        return _json_rows(path, text)
    if path.suffix.lower() == ".csv":
        return _csv_rows(path, text)
    raise ImportFileError(f"{path}: import files are .json or .csv")


def _json_rows(path: Path, text: str) -> list[RawRow]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}"
        ) from exc
    if not isinstance(document, dict):
        raise ImportFileError(f"{path}: expected a JSON object with lists of records")
    known = {t.value for t in RecordType}
    unknown = sorted(set(document) - known)
    if unknown:
        raise ImportFileError(
            f"{path}: unknown keys {', '.join(unknown)}; expected {', '.join(known)}"
        )
    rows: list[RawRow] = []
    for record_type in RecordType:
        items = document.get(record_type.value, [])
        if not isinstance(items, list):
            raise ImportFileError(f"{path}: {record_type.value} must be a list of objects")
        for index, item in enumerate(items):
            where = f"{path}:{record_type.value}[{index}]"
            rows.append(_json_row(record_type, where, item))
    return rows


def _json_row(record_type: RecordType, where: str, item: Any) -> RawRow:
    if not isinstance(item, dict):
        return RawRow(record_type, where, {}, "not an object")
    required, optional = FIELDS[record_type]
    unknown = sorted(set(item) - set(required) - set(optional))
    if unknown:
        return RawRow(record_type, where, {}, f"unknown field(s) {', '.join(unknown)}")
    values: dict[str, str | None] = {}
    for name in (*required, *optional):
        value = item.get(name)
        if value is not None and not isinstance(value, str):
            # A number would have lost leading zeros and the hyphen already.
            return RawRow(record_type, where, {}, f"{name} must be a string, not {value!r}")
        values[name] = value
    return RawRow(record_type, where, values)


def _csv_type(path: Path, header: list[str]) -> RecordType:
    names = [h.strip().lower() for h in header]
    for record_type, (required, optional) in FIELDS.items():
        if set(required) <= set(names) <= set(required) | set(optional):
            if len(set(names)) != len(names):
                raise ImportFileError(f"{path}:1: a column appears twice in the header")
            return record_type
    accepted = "; ".join(
        f"{t.value}: {','.join(req)}{''.join(f'[,{o}]' for o in opt)}"
        for t, (req, opt) in FIELDS.items()
    )
    raise ImportFileError(
        f"{path}:1: header {','.join(names)!r} is not one of the record types ({accepted})"
    )


def _csv_rows(path: Path, text: str) -> list[RawRow]:
    lines = text.splitlines(keepends=True)
    first = next((line for line in lines if line.strip()), None)
    if first is None:
        raise ImportFileError(f"{path}: empty file")
    # Swedish spreadsheet programs write semicolons, because the comma is the decimal sign.
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
        while not any(cell.strip() for cell in header):
            header = next(reader)
        record_type = _csv_type(path, header)
        names = [h.strip().lower() for h in header]
        rows: list[RawRow] = []
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            where = f"{path}:{reader.line_num}"
            if len(cells) != len(names):
                rows.append(RawRow(
                    record_type, where, {},
                    f"{len(cells)} columns, the header has {len(names)}",
                ))
                continue
            values: dict[str, str | None] = dict.fromkeys((*FIELDS[record_type][1],))
            for name, cell in zip(names, cells, strict=True):
                values[name] = cell.strip() or None
            rows.append(RawRow(record_type, where, values))
    except csv.Error as exc:
        raise ImportFileError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from exc
    return rows
