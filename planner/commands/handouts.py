"""``b12planner handouts CLIENTS.csv --out DIR``: a PDF handout per client, and an index.

The file's columns are described in :mod:`planner.handout_batch` (the upload
on ``/handouts/batch`` reads the same file). DIR gets the PDFs, ``index.html``,
``index.csv`` and ``errors.txt``, all at once: they are written to a temporary
folder beside DIR, which is renamed into place when complete.

Exit status: 0 when every row got a handout, 1 when any row was bad (each
one reported on stderr with its line number and field), 2 for unusable
arguments (no such file, DIR not empty without ``--replace``).
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from flask.cli import with_appcontext

from planner import handout
from planner import handout_batch as batch
from planner.errors import InvalidInput

USAGE_ERROR = 2


@click.command("handouts")
@click.argument("clients_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the PDFs and the index; created if missing.")
@click.option("--week", help="ISO week of the plans, e.g. 2025-W10 (default: this week).")
@click.option("--practitioner", default="",
              help="Practitioner named on handouts whose row has none.")
@click.option("--paper", type=click.Choice(handout.PAPERS), default=handout.PAPERS[0],
              show_default=True, help="Paper size.")
@click.option("--replace", is_flag=True, help="Replace DIR when it already holds files.")
@with_appcontext
def handouts(clients_csv: Path, out_dir: Path, week: str | None, practitioner: str,
             paper: str, replace: bool) -> None:
    """Write a PDF handout for each client in CLIENTS_CSV, with an index, into DIR."""
    try:
        defaults = batch.defaults_from(week, practitioner, paper, date.today())
    except InvalidInput as e:
        raise click.UsageError("; ".join(f"--{err['field']}: {err['message']}"
                                         for err in e.errors)) from None
    if out_dir.is_dir() and any(out_dir.iterdir()) and not replace:
        click.echo(f"error: {out_dir} is not empty; choose a new folder, or pass --replace",
                   err=True)
        raise SystemExit(USAGE_ERROR)
    try:
        data = clients_csv.read_bytes()
    except OSError as e:
        click.echo(f"error: {clients_csv}: cannot be read ({e.strerror})", err=True)
        raise SystemExit(USAGE_ERROR) from None
    parsed = batch.parse_clients_csv(data, defaults)
    with click.progressbar(length=len(parsed.rows), label="Rendering handouts",
                           file=sys.stderr, show_pos=True) as bar:
        result = batch.build_batch(parsed, defaults, today=date.today(),
                                   on_progress=lambda: bar.update(1))
    for error in result.errors:
        click.echo(f"{clients_csv}: {error}", err=True)
    if not result.handouts:
        click.echo(f"No handout written: no row of {clients_csv} could be used.", err=True)
        raise SystemExit(1)
    try:
        batch.write_batch_dir(result, out_dir, replace=replace)
    except (batch.OutputFolderError, OSError) as e:
        click.echo(f"error: {e}", err=True)
        raise SystemExit(USAGE_ERROR) from None
    problems = (f"; {len(result.errors)} problem(s), listed above and in errors.txt"
                if result.errors else "")
    click.echo(f"Wrote {len(result.handouts)} handout(s) for week {defaults.week} to "
               f"{out_dir} (index.html, index.csv, errors.txt){problems}.")
    if result.errors:
        raise SystemExit(1)
