"""Reading and writing CSV files safely, streaming (memory stays flat whatever the size).

Reading: UTF-8 (with or without BOM) is tried first, then Windows-1252 (a superset of the
printable Latin-1 that spreadsheets write), then Latin-1 itself, which decodes anything. NUL
bytes are refused (a binary file, e.g. an Excel workbook). The delimiter, comma or semicolon
(or tab), is read off the header line.

Writing: every cell that a spreadsheet would run as a formula — starting with = + - @, TAB,
CR, NUL, | or % — is neutralised with a leading apostrophe (OWASP "CSV injection"; defusedcsv
misses TAB and CR), and reading strips that apostrophe again so an export re-imports as it was.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\x00", "|", "%")
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
DELIMITERS = (",", ";", "\t")
MAX_COLUMNS = 100
CHUNK = 64 * 1024

MSG_EMPTY = "The file is empty."
MSG_TOO_BIG = "The file is {size} MB; the limit is {limit} MB. Split it into smaller files."
MSG_BINARY = "This is not a CSV text file (it contains NUL bytes). Save it from your spreadsheet as “CSV UTF-8”."
MSG_XLSX = "This is an Excel workbook, not a CSV file. In Excel: File → Save as → “CSV UTF-8 (comma delimited)”."
MSG_NO_HEADER = "The first row must name the columns (e.g. Name, Email, Phone)."
MSG_NO_ROWS = "The file has a header row but no data rows."
MSG_TOO_MANY_ROWS = "The file has more than {limit} rows. Split it into smaller files."
MSG_TOO_MANY_COLUMNS = "The file has {n} columns; at most {limit} are read. Remove the columns you do not need."
MSG_BAD_ROW = "Row {row} cannot be read as CSV ({error}). Check its quotes."


class CsvProblem(Exception):
    """A file we cannot import, with a message for the person who uploaded it."""


@dataclass(frozen=True)
class CsvInfo:
    encoding: str
    delimiter: str
    headers: list[str]
    rows_total: int


def _detect_encoding(raw: BinaryIO) -> str:
    """The first of ENCODINGS that decodes the whole file. Streams it; refuses NUL bytes."""
    raw.seek(0)
    head = raw.read(4)
    if head.startswith(b"PK\x03\x04"):
        raise CsvProblem(MSG_XLSX)
    candidates = list(ENCODINGS)
    decoders = {enc: codecs.getincrementaldecoder(enc)("strict") for enc in candidates}
    raw.seek(0)
    while chunk := raw.read(CHUNK):
        if b"\x00" in chunk:
            raise CsvProblem(MSG_BINARY)
        for enc in list(candidates):
            try:
                decoders[enc].decode(chunk)
            except UnicodeDecodeError:
                candidates.remove(enc)
    for enc in list(candidates):
        try:
            decoders[enc].decode(b"", final=True)
        except UnicodeDecodeError:
            candidates.remove(enc)
    return candidates[0]  # latin-1 never fails


def _text(raw: BinaryIO, encoding: str) -> io.TextIOWrapper:
    raw.seek(0)
    # newline="" lets the csv module see the line ends itself (quoted cells may span lines).
    return io.TextIOWrapper(raw, encoding=encoding, newline="")


def _detect_delimiter(first_line: str) -> str:
    """The delimiter giving the most columns on the header line (comma on a tie)."""
    best, best_n = ",", 0
    for delimiter in DELIMITERS:
        n = len(next(csv.reader([first_line], delimiter=delimiter), []))
        if n > best_n:
            best, best_n = delimiter, n
    return best


def inspect_csv(raw: BinaryIO, *, size: int, max_bytes: int, max_rows: int) -> CsvInfo:
    """Check an uploaded file and read its shape in one streaming pass. Raises CsvProblem."""
    if size == 0:
        raise CsvProblem(MSG_EMPTY)
    if size > max_bytes:
        raise CsvProblem(MSG_TOO_BIG.format(size=round(size / 1e6, 1), limit=round(max_bytes / 1e6, 1)))
    encoding = _detect_encoding(raw)
    text = _text(raw, encoding)
    try:
        first_line = text.readline()
        delimiter = _detect_delimiter(first_line)
        text.seek(0)
        reader = csv.reader(text, delimiter=delimiter)
        try:
            headers = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CsvProblem(MSG_EMPTY) from None
        if not any(headers):
            raise CsvProblem(MSG_NO_HEADER)
        if len(headers) > MAX_COLUMNS:
            raise CsvProblem(MSG_TOO_MANY_COLUMNS.format(n=len(headers), limit=MAX_COLUMNS))
        rows = 0
        try:
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                rows += 1
                if rows > max_rows:
                    raise CsvProblem(MSG_TOO_MANY_ROWS.format(limit=max_rows))
        except csv.Error as e:
            raise CsvProblem(MSG_BAD_ROW.format(row=reader.line_num, error=e)) from None
        if rows == 0:
            raise CsvProblem(MSG_NO_ROWS)
    finally:
        text.detach()
    return CsvInfo(encoding=encoding, delimiter=delimiter, headers=headers, rows_total=rows)


def unneutralise(cell: str) -> str:
    """Undo write_csv's apostrophe, so a LeadFlow export re-imports unchanged."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in FORMULA_START:
        return cell[1:]
    return cell


def iter_rows(raw: BinaryIO, *, encoding: str, delimiter: str, skip: int = 0) -> Iterator[tuple[int, list[str]]]:
    """Yield (row number as a spreadsheet shows it, cells) for the data rows after the first `skip`.

    Blank rows are not yielded and not counted, as in inspect_csv. The header is row 1.
    """
    text = _text(raw, encoding)
    try:
        reader = csv.reader(text, delimiter=delimiter)
        next(reader, None)
        row_number, seen = 1, 0
        for cells in reader:
            row_number += 1
            if not any(c.strip() for c in cells):
                continue
            seen += 1
            if seen <= skip:
                continue
            yield row_number, [unneutralise(c) for c in cells]
    finally:
        text.detach()


def safe_cell(value) -> str:
    """A cell a spreadsheet shows as text, never runs: formula starts get a leading apostrophe."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


class _Echo:
    def write(self, value: str) -> str:
        return value


def stream_csv(header: list[str], rows: Iterable[Iterable], *, bom: bool = True) -> Iterator[str]:
    """CSV text line by line, every cell neutralised; a BOM first so Excel reads UTF-8."""
    writer = csv.writer(_Echo())
    if bom:
        yield "\ufeff"
    yield writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        yield writer.writerow([safe_cell(c) for c in row])


# Header guessing for the mapping step: a normalised header → the lead field it usually means.
FIELD_SYNONYMS = {
    "name": ["name", "fullname", "contact", "contactname", "leadname", "person"],
    "first_name": ["firstname", "first", "givenname", "forename", "vorname", "prenom", "nombre"],
    "last_name": ["lastname", "last", "surname", "familyname", "nachname", "apellido"],
    "email": ["email", "emailaddress", "mail", "emailadresse", "correo"],
    "phone": ["phone", "phonenumber", "telephone", "tel", "mobile", "mobilephone", "cell", "telefon", "telefono"],
    "company": ["company", "companyname", "organisation", "organization", "account", "accountname", "firma", "empresa"],
    "title": ["title", "jobtitle", "position", "role", "funktion"],
    "referred_by": ["referredby", "referral", "referrer", "referredfrom"],
    "notes": ["notes", "note", "message", "comments", "comment", "description", "inquiry", "enquiry", "bemerkung"],
}
_SYNONYM_TO_FIELD = {syn: field for field, syns in FIELD_SYNONYMS.items() for syn in syns}


def _norm_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.lower())


def guess_mapping(headers: list[str]) -> dict[str, str]:
    """{column index: field} for the headers that name a lead field; each field used once."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for index, header in enumerate(headers):
        field = _SYNONYM_TO_FIELD.get(_norm_header(header))
        if field and field not in used:
            mapping[str(index)] = field
            used.add(field)
    return mapping
