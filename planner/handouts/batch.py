"""Handouts for many clients from one CSV file.

Shared by the ``b12planner handouts`` command and the ``/handouts/batch``
upload: :func:`parse_clients_csv` is the one place a row becomes a client,
:func:`build_batch` renders the PDFs and the index, and the two callers only
differ in where the files go (:func:`write_batch_dir` or :func:`batch_zip`).

The file: a header line, then one client per row. Columns are
``client_name`` and the profile's fields as the form names them
(:data:`PROFILE_COLUMNS`), plus optional ``practitioner`` and ``notes``.
List fields hold their values separated by ``;`` (``milk;egg``); a blank
cell means the field's default. Every bad row is reported with the number
of the line it starts on (the first line of the file is line 1; a quoted
cell may span several lines) and the field at fault, and the other rows
still get their handouts.

Files saved by Excel are read as they come: a byte-order mark, a ``sep=,``
first line (then the header is line 2), and empty columns after the last
named one are all accepted. A quoted cell whose closing quote never comes is
reported as such, with the line it opens on; a cell over the CSV reader's
limit (:data:`MAX_CELL_CHARS`) fails its own row only.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from pathlib import Path

from flask import current_app
from flask import has_request_context
from flask import render_template
from werkzeug.datastructures import MultiDict

from planner import services
from planner.domain.model import Profile
from planner.domain.planning import PlanError
from planner.errors import InvalidInput
from planner.handouts import render
from planner.pages import forms
from planner.pages import spreadsheet
from planner.pages.labels import label

LIST_SEPARATOR = ";"
PROFILE_COLUMNS = forms.FORM_FIELDS
REQUIRED_COLUMNS = ("client_name", "age_years", "diet")
OPTIONAL_COLUMNS = ("practitioner", "notes")
COLUMNS = ("client_name", *PROFILE_COLUMNS, *OPTIONAL_COLUMNS)
#: Most clients in one upload on the web (``HANDOUT_BATCH_MAX_ROWS``): each PDF takes
#: about half a second, and the request must end well before a server's timeout.
WEB_MAX_ROWS = 30
#: Origin the handout URLs resolve against when no request is being served.
COMMAND_BASE_URL = "http://localhost/"
INDEX_FILES = ("index.html", "index.csv", "errors.txt")
#: Longest cell the CSV reader takes (Python's ``csv.field_size_limit()``, 128 KiB).
MAX_CELL_CHARS = csv.field_size_limit()

# One CSV record as Python's csv module reads it (``,``-separated, ``"`` quoting,
# a quote only special at a cell's start): a quoted cell runs to its closing
# quote, line breaks included; a record ends at a line break outside quotes.
_CELL = r'(?:"(?:[^"]++|"")*+"[^,\r\n]*+|[^",\r\n][^,\r\n]*+|)'
_RECORD = re.compile(_CELL + r"(?:," + _CELL + r")*+(?:\r\n|\n|\r|\Z)")
_SEP_LINE = re.compile(r"sep=(.?)[ \t]*(?:\r\n|\n|\r|\Z)", re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True)
class RowError:
    """A problem with one row (or, for ``line`` 1 or ``field`` "file", the whole file)."""

    line: int
    field: str | None
    message: str
    client: str = ""

    def __str__(self) -> str:
        who = f" ({self.client})" if self.client else ""
        where = f"{self.field}: " if self.field else ""
        return f"line {self.line}{who}: {where}{self.message}"


@dataclass(frozen=True)
class ClientRow:
    line: int
    profile: Profile
    details: render.HandoutDetails


@dataclass(frozen=True)
class BatchDefaults:
    """What applies to every row: the week, and the practitioner and paper unless a row says."""

    week: str
    practitioner: str = ""
    paper: str = "a4"


@dataclass
class ParsedBatch:
    rows: list[ClientRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


@dataclass(frozen=True)
class Handout:
    line: int
    client_name: str
    filename: str
    risk_level: str
    flags: str
    pdf: bytes


@dataclass
class BatchResult:
    week: str
    date_text: str
    handouts: list[Handout] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def defaults_from(week: str | None, practitioner: str | None, paper: str | None,
                  today: date) -> BatchDefaults:
    """Checked batch defaults; InvalidInput names the field at fault."""
    errors = []
    try:
        week = forms.parse_week(week, today)
    except InvalidInput as e:
        errors += e.errors
    try:
        details = render.parse_details({"practitioner": practitioner, "paper": paper})
    except InvalidInput as e:
        errors += e.errors
    if errors:
        raise InvalidInput(errors)
    return BatchDefaults(week=week, practitioner=details.practitioner, paper=details.paper)


# ---- reading the file ---------------------------------------------------------------

def decode(data: bytes | str) -> str:
    """The file's text (UTF-8, with or without the byte-order mark Excel writes);
    raises a :class:`RowError` on the line of the first byte that is not UTF-8."""
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise NotText(RowError(line, "file", (
            f"is not UTF-8 text (line {line} has a byte that is not); save it as "
            "\"CSV UTF-8\""))) from None


class NotText(Exception):
    """The uploaded file is not UTF-8 text; ``error`` says where."""

    def __init__(self, error: RowError):
        super().__init__(str(error))
        self.error = error


def header_errors(header: list[str], line: int = 1) -> list[RowError]:
    """Problems with the header line: unknown, repeated or missing columns."""
    errors = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(line, name or "header", "appears twice in the header"))
        elif name not in COLUMNS:
            errors.append(RowError(line, name or "header", (
                "is not a column this file can have; the columns are "
                f"{', '.join(COLUMNS)}")))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            errors.append(RowError(line, name, "is a required column and is missing"))
    if len(header) == 1 and LIST_SEPARATOR in header[0]:
        errors.append(RowError(line, "header", (
            f"columns must be separated by commas, not {LIST_SEPARATOR!r} "
            f"({LIST_SEPARATOR!r} separates the items of a list)")))
    return errors


def profile_args(values: dict[str, str]) -> MultiDict:
    """A row's profile cells as the form's query arguments (lists split on ``;``)."""
    args = MultiDict()
    for column in PROFILE_COLUMNS:
        cell = values.get(column, "").strip()
        if column in forms.LIST_FIELDS:
            for item in cell.split(LIST_SEPARATOR):
                if item.strip():
                    args.add(column, item.strip())
        elif cell:
            args.add(column, cell)
    return args


def parse_row(line: int, values: dict[str, str], defaults: BatchDefaults
              ) -> ClientRow | list[RowError]:
    """One row as a client, or every problem with it."""
    client = render.clean_text(values.get("client_name", ""), multiline=False)[:40]
    errors: list[RowError] = []
    profile = details = None
    try:
        profile = forms.profile_from_args(profile_args(values))
    except InvalidInput as e:
        errors += [RowError(line, err.get("field"), err["message"], client) for err in e.errors]
    try:
        details = render.parse_details({
            "client_name": values.get("client_name"),
            "practitioner": values.get("practitioner") or defaults.practitioner,
            "notes": values.get("notes"),
            "paper": defaults.paper,
        })
    except InvalidInput as e:
        errors += [RowError(line, err["field"], err["message"], client) for err in e.errors]
    if not client:
        errors.append(RowError(line, "client_name", "is empty; every row needs the client's name"))
    if errors:
        return errors
    return ClientRow(line=line, profile=profile, details=details)


class UnclosedQuote(Exception):
    """A quoted cell opens on ``line`` and its closing quote never comes."""

    def __init__(self, line: int):
        super().__init__(f"line {line}: unclosed quote")
        self.line = line


def records(text: str, first_line: int = 1):
    """(line the record starts on, its text) for each CSV record of ``text``;
    raises :class:`UnclosedQuote` at a quoted cell that is never closed."""
    pos, line, end = 0, first_line, len(text)
    while pos < end:
        match = _RECORD.match(text, pos)
        if match is None or match.end() == pos:
            raise UnclosedQuote(line)
        record = match.group()
        yield line, record
        line += len(_LINE_BREAK.findall(record))
        pos = match.end()


def read_cells(record: str) -> list[str]:
    """The cells of one record (csv.Error for a cell over :data:`MAX_CELL_CHARS`)."""
    return next(csv.reader([record]), [])


def sep_line(text: str) -> tuple[str, int] | RowError:
    """``text`` without Excel's ``sep=,`` first line, and the header's line number."""
    match = _SEP_LINE.match(text)
    if match is None:
        return text, 1
    if match.group(1) != ",":
        return RowError(1, "file", (
            f"says its columns are separated by {match.group(1)!r} (its first line is "
            f"{match.group().strip()!r}); save it as \"CSV UTF-8 (comma delimited)\""))
    return text[match.end():], 2


def trim_header(cells: list[str]) -> list[str]:
    """The header's names, without the empty columns Excel leaves after the last one."""
    names = [c.strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    return names


def _row_cells(line: int, record: str, header: list[str] | None) -> list[str] | RowError:
    """The cells of one record, trimmed of Excel's empty extra columns, or its problem."""
    try:
        cells = read_cells(record)
    except csv.Error:
        return RowError(line, "header" if header is None else None, (
            f"has a cell longer than {MAX_CELL_CHARS} characters; this row gets no "
            "handout (notes are far shorter)"))
    if header is None:
        return cells
    while len(cells) > len(header) and not cells[-1].strip():
        cells.pop()
    if len(cells) > len(header):
        return RowError(line, None, (
            f"has {len(cells)} cells but the header has {len(header)} columns; "
            "put a cell holding commas or line breaks in double quotes"))
    return cells


def too_many_rows(line: int, max_rows: int) -> RowError:
    return RowError(line, "file", (
        f"has more than {max_rows} clients; split it into smaller files, or "
        "use the b12planner handouts command"))


def unclosed_quote(line: int) -> RowError:
    return RowError(line, "file", (
        "has a quoted cell that opens on this line with \" and is never closed, so "
        "the rest of the file cannot be read; add the closing quote (a quote inside "
        "a quoted cell is written twice: \"\")"))


def parse_clients_csv(data: bytes | str, defaults: BatchDefaults,
                      max_rows: int | None = None) -> ParsedBatch:
    """Every client of a CSV file, and every problem, by line number."""
    try:
        after_sep = sep_line(decode(data))
    except NotText as e:
        after_sep = e.error
    if isinstance(after_sep, RowError):
        return ParsedBatch(errors=[after_sep])
    text, first_line = after_sep
    parsed = ParsedBatch()
    try:
        header = _read_rows(records(text, first_line), parsed, defaults, max_rows)
    except UnclosedQuote as e:
        parsed.errors.append(unclosed_quote(e.line))
        return parsed
    if header is None and not parsed.errors:
        parsed.errors.append(RowError(first_line, "file",
                                      "is empty; the first line must name the columns"))
    elif not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(first_line + 1, "file", "has a header but no clients"))
    return parsed


def _read_rows(lines_records, parsed: ParsedBatch, defaults: BatchDefaults,
               max_rows: int | None) -> list[str] | None:
    """Fill ``parsed`` from the records; the header, or None when there was none.
    Stops at a problem that makes the rest meaningless (header, too many rows)."""
    header: list[str] | None = None
    count = 0
    for line, record in lines_records:
        cells = _row_cells(line, record, header)
        if isinstance(cells, RowError):
            parsed.errors.append(cells)
            if header is None:
                return None
            continue
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = trim_header(cells)
            parsed.errors += header_errors(header, line)
            if parsed.errors:
                return header
            continue
        count += 1
        if max_rows is not None and count > max_rows:
            parsed.rows.clear()
            parsed.errors[:] = [too_many_rows(line, max_rows)]
            return header
        result = parse_row(line, dict(zip(header, cells, strict=False)), defaults)
        if isinstance(result, ClientRow):
            parsed.rows.append(result)
        else:
            parsed.errors += result
    return header


# ---- making the handouts ------------------------------------------------------------

def flags_summary(flags: Iterable[dict]) -> str:
    """``"Medical check: soon; Supplement: advised"``."""
    return "; ".join(f"{label('flag', f['code'])}: {f['level'].replace('_', ' ')}"
                     for f in flags) or "none"


def unique_name(name: str, taken: set[str]) -> str:
    stem, dot, ext = name.rpartition(".")
    candidate, n = name, 1
    while candidate in taken or candidate in INDEX_FILES:
        n += 1
        candidate = f"{stem}-{n}{dot}{ext}"
    taken.add(candidate)
    return candidate


def rendering_context(base_url: str):
    """A request context for ``url_for`` when there is none (the command)."""
    if has_request_context():
        return contextlib.nullcontext()
    return current_app.test_request_context("/", base_url=base_url)


@dataclass(frozen=True)
class Progress:
    """One row done: ``done`` of ``total``, and what became of it.

    ``outcome`` is ``made``, ``kept`` (its file was already there), ``problem`` or
    ``late`` (the batch ran out of time before this row)."""

    done: int
    total: int
    line: int
    outcome: str
    filename: str = ""


def build_batch(parsed: ParsedBatch, defaults: BatchDefaults, *, today: date,
                base_url: str = COMMAND_BASE_URL,
                on_progress: Callable[[Progress], None] | None = None,
                save: Callable[[str, bytes], None] | None = None,
                exists: Callable[[str], bool] | None = None,
                seconds: float | None = None) -> BatchResult:
    """A PDF for every valid client; a row whose plan cannot be made joins the errors.

    With ``save``, each PDF is handed to it as soon as it is made (and not kept
    in the result); a row whose file ``exists`` is not rendered again. With
    ``seconds``, no new handout is started once that much time has passed:
    the rows left join the errors, so one call's work stays bounded.
    """
    result = BatchResult(week=defaults.week, date_text=render.long_date(today),
                         errors=list(parsed.errors))
    taken: set[str] = set()
    total = len(parsed.rows)
    stop_at = None if seconds is None else time.monotonic() + seconds
    with rendering_context(base_url):
        for done, row in enumerate(parsed.rows, start=1):
            client = row.details.client_name[:40]
            filename, outcome = "", "problem"
            if stop_at is not None and time.monotonic() >= stop_at:
                result.errors.append(RowError(row.line, None, (
                    f"not made: this upload reached its time limit of {seconds:g} s; "
                    "upload the rows from here on in another file, or use the "
                    "b12planner handouts command"), client))
                outcome = "late"
            else:
                try:
                    plan = services.build_plan(row.profile, defaults.week).to_dict()
                except PlanError as e:
                    result.errors += [RowError(row.line, err.get("field") or None,
                                               err["message"], client)
                                      for err in e.errors]
                else:
                    filename = unique_name(render.handout_filename(
                        row.details.client_name, defaults.week), taken)
                    if exists is not None and exists(filename):
                        pdf, outcome = b"", "kept"
                    else:
                        html = render.render_handout_html(
                            plan, row.details, profile=row.profile, today=today,
                            foods=services.foods())
                        pdf, outcome = render.handout_pdf(html, base_url), "made"
                        if save is not None:
                            save(filename, pdf)
                            pdf = b""
                    result.handouts.append(Handout(
                        line=row.line, client_name=row.details.client_name,
                        filename=filename, risk_level=plan["assessment"]["risk_level"],
                        flags=flags_summary(plan["assessment"]["flags"]), pdf=pdf))
            if on_progress:
                on_progress(Progress(done, total, row.line, outcome, filename))
    result.errors.sort(key=lambda e: e.line)
    return result


def index_csv(result: BatchResult) -> str:
    out = io.StringIO()
    writer = spreadsheet.writer(out, lineterminator="\n")  # no cell runs as a formula
    writer.writerow(["line", "client_name", "file", "risk_level", "flags"])
    for h in result.handouts:
        writer.writerow([h.line, h.client_name, h.filename, h.risk_level, h.flags])
    return out.getvalue()


def errors_txt(result: BatchResult) -> str:
    if not result.errors:
        return "No problems: every row got a handout.\n"
    lines = [f"{len(result.errors)} problem(s); these rows got no handout "
             "(by line of the file; the first line is line 1):", ""]
    return "\n".join(lines + [str(e) for e in result.errors]) + "\n"


def batch_files(result: BatchResult) -> list[tuple[str, bytes]]:
    """(file name, content) of everything a batch produces: PDFs, index, errors."""
    with rendering_context(COMMAND_BASE_URL):
        index_html = render_template("handout/batch_index.html", result=result)
    return [*((h.filename, h.pdf) for h in result.handouts),
            ("index.html", index_html.encode()),
            ("index.csv", index_csv(result).encode()),
            ("errors.txt", errors_txt(result).encode())]


def batch_zip(result: BatchResult) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in batch_files(result):
            zf.writestr(name, content)
    return buffer.getvalue()


def write_file(folder: Path, name: str, content: bytes) -> None:
    """Write one file whole or not at all: a hidden ``.part`` file, renamed into place."""
    part = folder / f".{name}.part"
    try:
        with open(part, "wb") as f:
            f.write(content)
            f.flush()
            os.fsync(f.fileno())
        os.replace(part, folder / name)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def write_index(result: BatchResult, folder: Path) -> None:
    """``index.html``, ``index.csv`` and ``errors.txt`` of a batch whose PDFs are written."""
    for name, content in batch_files(result)[len(result.handouts):]:
        write_file(folder, name, content)


def leftover_parts(folder: Path) -> list[Path]:
    """Half-written files an interrupted run left behind."""
    return sorted(folder.glob(".*.part"))


class OutputFolderError(Exception):
    """The output folder cannot be used (it is a file, or holds files and may not be replaced)."""


def write_batch_dir(result: BatchResult, out: Path, *, replace: bool = False) -> None:
    """Write the batch into ``out`` all at once: into a temporary folder beside
    it first, renamed into place only when every file is written."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not replace:
        raise OutputFolderError(f"{out} is not empty; choose a new folder, or pass --replace")
    out.parent.mkdir(parents=True, exist_ok=True)
    files = batch_files(result)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, content in files:
            (tmp / name).write_bytes(content)
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)
        if out.is_dir() and any(out.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.replace(out, old / out.name)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
