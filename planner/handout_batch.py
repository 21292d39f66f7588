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
of the line it starts on (the header is line 1; a quoted cell may span
several lines) and the field at fault, and the other rows still get their
handouts.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import tempfile
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

from planner import forms
from planner import handout
from planner import spreadsheet
from planner import web
from planner.domain.model import Profile
from planner.domain.planning import PlanError
from planner.errors import InvalidInput
from planner.labels import label

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
    details: handout.HandoutDetails


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
        details = handout.parse_details({"practitioner": practitioner, "paper": paper})
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


def header_errors(header: list[str]) -> list[RowError]:
    """Problems with the header line: unknown, repeated or missing columns."""
    errors = []
    seen: set[str] = set()
    for name in header:
        if name in seen:
            errors.append(RowError(1, name or "header", "appears twice in the header"))
        elif name not in COLUMNS:
            errors.append(RowError(1, name or "header", (
                "is not a column this file can have; the columns are "
                f"{', '.join(COLUMNS)}")))
        seen.add(name)
    for name in REQUIRED_COLUMNS:
        if name not in seen:
            errors.append(RowError(1, name, "is a required column and is missing"))
    if len(header) == 1 and LIST_SEPARATOR in header[0]:
        errors.append(RowError(1, "header", (
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
    client = handout.clean_text(values.get("client_name", ""), multiline=False)[:40]
    errors: list[RowError] = []
    profile = details = None
    try:
        profile = forms.profile_from_args(profile_args(values))
    except InvalidInput as e:
        errors += [RowError(line, err.get("field"), err["message"], client) for err in e.errors]
    try:
        details = handout.parse_details({
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


def parse_clients_csv(data: bytes | str, defaults: BatchDefaults,
                      max_rows: int | None = None) -> ParsedBatch:
    """Every client of a CSV file, and every problem, by line number."""
    parsed = ParsedBatch()
    try:
        text = decode(data)
    except NotText as e:
        parsed.errors.append(e.error)
        return parsed
    reader = csv.reader(io.StringIO(text, newline=""))
    last_line = 0
    header: list[str] | None = None
    count = 0
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [c.strip() for c in cells]
                parsed.errors += header_errors(header)
                if parsed.errors:
                    return parsed
                continue
            count += 1
            if max_rows is not None and count > max_rows:
                return ParsedBatch(errors=[RowError(line, "file", (
                    f"has more than {max_rows} clients; split it into smaller files, or "
                    "use the b12planner handouts command"))])
            if len(cells) > len(header):
                parsed.errors.append(RowError(line, None, (
                    f"has {len(cells)} cells but the header has {len(header)} columns; "
                    "put a cell holding commas or line breaks in double quotes")))
                continue
            result = parse_row(line, dict(zip(header, cells, strict=False)), defaults)
            if isinstance(result, ClientRow):
                parsed.rows.append(result)
            else:
                parsed.errors += result
    except csv.Error as e:
        parsed.errors.append(RowError(reader.line_num or 1, "file", f"is not valid CSV ({e})"))
        return ParsedBatch(errors=parsed.errors)
    if header is None:
        parsed.errors.append(RowError(1, "file", "is empty; the first line must name the columns"))
    elif not parsed.rows and not parsed.errors:
        parsed.errors.append(RowError(2, "file", "has a header but no clients"))
    return parsed


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


def build_batch(parsed: ParsedBatch, defaults: BatchDefaults, *, today: date,
                base_url: str = COMMAND_BASE_URL,
                on_progress: Callable[[], None] | None = None) -> BatchResult:
    """A PDF for every valid client; a row whose plan cannot be made joins the errors."""
    result = BatchResult(week=defaults.week, date_text=handout.long_date(today),
                         errors=list(parsed.errors))
    taken: set[str] = set()
    with rendering_context(base_url):
        for row in parsed.rows:
            try:
                plan = web.build_plan(row.profile, defaults.week).to_dict()
            except PlanError as e:
                result.errors += [RowError(row.line, err.get("field") or None, err["message"],
                                           row.details.client_name[:40]) for err in e.errors]
            else:
                html = handout.render_handout_html(plan, row.details, profile=row.profile,
                                                   today=today, foods=web.foods())
                result.handouts.append(Handout(
                    line=row.line, client_name=row.details.client_name,
                    filename=unique_name(handout.handout_filename(
                        row.details.client_name, defaults.week), taken),
                    risk_level=plan["assessment"]["risk_level"],
                    flags=flags_summary(plan["assessment"]["flags"]),
                    pdf=handout.handout_pdf(html, base_url)))
            if on_progress:
                on_progress()
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
             "(the header is line 1):", ""]
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
