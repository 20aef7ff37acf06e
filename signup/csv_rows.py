"""The sign-ups CSV: its columns and how each row is written, for the streamed download and for
the export a worker prepares alike (one writer, so both files are the same)."""

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from django.db.models import QuerySet

from .models import Submission
from .selectors import submissions_export_values

CSV_HEADER = [
    "id",
    "received_at",
    "captured_at",
    "store_code",
    "store",
    "tablet_id",
    "form_version",
    "locale",
    "email",
    "first_name",
    "last_name",
    "phone",
    "birthday",
    "postal_code",
    "answers",
    "email_consent",
    "email_consent_captured_at",
    "email_consent_text_sha256",
    "sms_consent",
    "sms_consent_captured_at",
    "sms_consent_text_sha256",
]


#: First characters a spreadsheet may read as the start of a formula (see csv_cell).
_FORMULA_STARTS = frozenset("=@\t\r+-")


def csv_cell(value: str) -> str:
    """Defuses spreadsheet formulas (CSV injection); phone numbers like +33… stay numbers."""
    if value[:1] in ("=", "@", "\t", "\r") or (
        value[:1] in ("+", "-") and not value[1:].replace(" ", "").isdigit()
    ):
        return "'" + value
    return value


def _consent_cells(
    granted: bool | None, captured_at: str | None, text_hash: str | None
) -> list[str]:
    # A form without that consent recorded none: empty cells, not "refused".
    if granted is None or captured_at is None:
        return ["", "", ""]
    return ["granted" if granted else "refused", captured_at, text_hash or ""]


def _answers(text: str) -> str:
    """The answers as the CSV has always written them (keys sorted, non-ASCII kept)."""
    if text == "{}":
        return ""
    return json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True)


def _row(values: tuple[Any, ...]) -> list[str]:
    (
        pk, received_at, captured_at, store_code, store_name, device_id, form_number, locale,
        email, first_name, last_name, phone, birthday_month, birthday_day, postal_code, answers,
        email_granted, email_captured_at, email_hash, sms_granted, sms_captured_at, sms_hash,
    ) = values  # fmt: skip
    birthday = (
        f"{birthday_month:02d}-{birthday_day:02d}"  # MM-DD, no year
        if birthday_month and birthday_day
        else ""
    )
    return [
        pk,
        received_at,
        captured_at,
        store_code,
        store_name,
        str(device_id or ""),
        str(form_number),
        locale,
        email,
        first_name,
        last_name,
        phone,
        birthday,
        postal_code,
        _answers(answers),
        *_consent_cells(email_granted, email_captured_at, email_hash),
        *_consent_cells(sms_granted, sms_captured_at, sms_hash),
    ]


def submission_csv_rows(
    submissions: QuerySet[Submission], *, chunk_size: int
) -> Iterator[list[str]]:
    """The CSV rows of ``submissions``, read ``chunk_size`` rows at a time; the writers defuse
    the cells.

    ``iterator()`` reads through a server-side cursor: however many sign-ups there are, only
    one chunk of plain tuples is in memory at a time.
    """
    for values in submissions_export_values(submissions).iterator(chunk_size=chunk_size):
        yield _row(values)


def csv_file_write(file: TextIO, *, header: list[str], rows: Iterable[list[str]]) -> int:
    """Writes a whole CSV to ``file`` as the download streams it (BOM, header, defused cells);
    returns how many rows it wrote."""
    writer = csv.writer(file)
    file.write("\ufeff")  # spreadsheets then read UTF-8
    writer.writerow(header)
    count = 0
    for row in rows:
        # csv_cell only where the first character could start a formula: most cells cannot,
        # and a call per cell was a sixth of a large export's time.
        writer.writerow([csv_cell(v) if v[:1] in _FORMULA_STARTS else v for v in row])
        count += 1
    return count
