"""``b12planner handouts CLIENTS.csv --out DIR``: a PDF handout per client, and an index.

The file's columns are described in :mod:`planner.handouts.batch` (the upload
on ``/handouts/batch`` reads the same file). Each PDF is written into DIR as
soon as it is made (to a hidden ``.part`` file first, renamed when complete,
so a file in DIR is always whole), and a line on stderr says so; ``index.html``,
``index.csv`` and ``errors.txt`` follow when every row is done. An interrupted
run keeps the PDFs it made: run it again with ``--skip-existing`` and only the
missing ones are rendered (the index then lists them all).

Exit status: 0 when every row got a handout, 1 when any row was bad (each
one reported on stderr with its line number and field), 2 for unusable
arguments (no such file, DIR not empty without ``--replace`` or
``--skip-existing``).
"""

from __future__ import annotations

import contextlib
import shutil
from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext

from planner.errors import InvalidInput
from planner.handouts import batch
from planner.handouts import render
from planner.handouts import views as web_handouts

USAGE_ERROR = 2
OUTCOME_WORDS = {"made": "wrote", "kept": "kept (already there)", "problem": "no handout",
                 "late": "not made"}


@click.command("handouts")
@click.argument("clients_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PDFs and the index; created if missing.")
@click.option("--week", help="ISO week of the plans, e.g. 2025-W10 (default: this week).")
@click.option("--practitioner", default="",
              help="Practitioner named on handouts whose row has none.")
@click.option("--paper", type=click.Choice(render.PAPERS), default=render.PAPERS[0],
              show_default=True, help="Paper size.")
@click.option("--replace", is_flag=True,
              help="Empty DIR first when it already holds files.")
@click.option("--skip-existing", is_flag=True,
              help="Keep the PDFs DIR already has and make only the missing ones "
                   "(to finish an interrupted run).")
@with_appcontext
def handouts(clients_csv: Path, out_dir: Path, week: str | None, practitioner: str,
             paper: str, replace: bool, skip_existing: bool) -> None:
    """Write a PDF handout for each client in CLIENTS_CSV, with an index, into DIR."""
    if replace and skip_existing:
        raise click.UsageError("--replace and --skip-existing contradict each other; "
                               "choose one")
    try:
        defaults = batch.defaults_from(week, practitioner, paper, date.today())
    except InvalidInput as e:
        raise click.UsageError("; ".join(f"--{err['field']}: {err['message']}"
                                         for err in e.errors)) from None
    if out_dir.exists() and not out_dir.is_dir():
        _usage_error(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (replace or skip_existing):
        _usage_error(f"{out_dir} is not empty; choose a new folder, pass --skip-existing "
                     "to finish an interrupted run, or --replace")
    try:
        data = clients_csv.read_bytes()
    except OSError as e:
        _usage_error(f"{clients_csv}: cannot be read ({e.strerror})")
    parsed = batch.parse_clients_csv(data, defaults)
    for error in parsed.errors:
        click.echo(f"{clients_csv}: {error}", err=True)
    if not parsed.rows:
        click.echo(f"No handout written: no row of {clients_csv} could be used.", err=True)
        raise SystemExit(1)
    created = _prepare(out_dir, replace)
    click.echo(f"Rendering handouts for {len(parsed.rows)} client(s) into {out_dir}",
               err=True)
    result, kept = _render(parsed, defaults, out_dir, skip_existing, created, clients_csv)
    problems = (f"; {len(result.errors)} problem(s), listed above and in errors.txt"
                if result.errors else "")
    kept_text = f", {kept} of them already there" if kept else ""
    click.echo(f"Wrote {len(result.handouts)} handout(s){kept_text} for week "
               f"{defaults.week} to {out_dir} (index.html, index.csv, errors.txt){problems}.")
    if result.errors:
        raise SystemExit(1)


def _render(parsed: batch.ParsedBatch, defaults: batch.BatchDefaults, out_dir: Path,
            skip_existing: bool, created: bool,
            clients_csv: Path) -> tuple[batch.BatchResult, int]:
    """Make and write every PDF, one at a time, then the index; report each row.
    Returns the result and how many PDFs were already there (``--skip-existing``)."""
    kept = 0

    def report(step: batch.Progress) -> None:
        nonlocal kept
        kept += step.outcome == "kept"
        name = f" {step.filename}" if step.filename else ""
        click.echo(f"[{step.done}/{step.total}] line {step.line}: "
                   f"{OUTCOME_WORDS[step.outcome]}{name}", err=True)

    try:
        result = batch.build_batch(
            parsed, defaults, today=date.today(), on_progress=report,
            save=lambda name, pdf: batch.write_file(out_dir, name, pdf),
            exists=(lambda name: (out_dir / name).is_file()) if skip_existing else None)
        for error in result.errors:
            if error not in parsed.errors:  # plans that could not be made
                click.echo(f"{clients_csv}: {error}", err=True)
        if not result.handouts:
            if created:
                with contextlib.suppress(OSError):
                    out_dir.rmdir()
            click.echo(f"No handout written: no row of {clients_csv} could be used.",
                       err=True)
            raise SystemExit(1)
        batch.write_index(result, out_dir)
    except OSError as e:
        click.echo(f"error: {out_dir}: {e.strerror or e}; the PDFs written so far are "
                   "kept (finish with --skip-existing)", err=True)
        raise SystemExit(USAGE_ERROR) from None
    return result, kept


def _usage_error(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(USAGE_ERROR)


def _prepare(out_dir: Path, replace: bool) -> bool:
    """Make DIR ready for the PDFs; True when this run created it."""
    try:
        if replace and out_dir.is_dir():
            for entry in out_dir.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        created = not out_dir.is_dir()
        out_dir.mkdir(parents=True, exist_ok=True)
        for part in batch.leftover_parts(out_dir):
            part.unlink()
    except OSError as e:
        _usage_error(f"{out_dir}: cannot be used ({e.strerror or e})")
    return created


@click.command("handouts-worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@with_appcontext
def handouts_worker(burst: bool) -> None:
    """Make the handout batches uploaded on the web (needs B12_REDIS_URL)."""
    from flask import current_app
    from redis import Redis
    from rq import Queue
    from rq import SimpleWorker

    url = current_app.config.get("REDIS_URL")
    if not url:
        raise click.UsageError("Set B12_REDIS_URL, e.g. redis://localhost:6379/0.")
    connection = Redis.from_url(str(url))
    queue = Queue(str(current_app.config.get("HANDOUT_QUEUE", web_handouts.DEFAULT_QUEUE)),
                  connection=connection)
    # SimpleWorker runs each job in this process, inside the app context.
    SimpleWorker([queue], connection=connection).work(burst=burst, logging_level="WARNING")
