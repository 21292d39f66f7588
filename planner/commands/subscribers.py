"""``b12planner subscribers export PATH`` and ``… import PATH``: a CSV backup of the
weekly-email subscribers (format and rules in :mod:`planner.mail.backup`)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from planner.mail import backup

INPUT_ERROR = 1


@click.group("subscribers")
def subscribers() -> None:
    """Back up the weekly-email subscribers to CSV, and restore them."""


@subscribers.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--force", is_flag=True, help="Replace PATH if it exists.")
@with_appcontext
def export(path: Path, force: bool) -> None:
    """Write every subscriber to PATH as CSV, readable by you only."""
    try:
        count = backup.write_csv(backup.export_rows(), path, overwrite=force)
    except (FileExistsError, FileNotFoundError, PermissionError) as e:
        raise click.UsageError(str(e)) from None
    click.echo(f"exported {count} subscriber(s) to {path} (readable by you only: "
               "it holds addresses and health details; store it as such)")


@subscribers.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", is_flag=True, help="Only check the file; write nothing.")
@with_appcontext
def import_(path: Path, check: bool) -> None:
    """Add or update subscribers from a CSV made by export, all or nothing."""
    try:
        rows = backup.read_csv(path.read_bytes())
    except backup.BackupError as e:
        for problem in e.errors[:100]:
            click.echo(f"{path}: {problem}", err=True)
        if len(e.errors) > 100:
            click.echo(f"… and {len(e.errors) - 100} more", err=True)
        click.echo(f"{path}: {len(e.errors)} problem(s); nothing was imported", err=True)
        raise SystemExit(INPUT_ERROR) from None
    if check:
        click.echo(f"{path}: {len(rows)} subscriber(s), no problems found (nothing written)")
        return
    click.echo(f"{path}: {len(rows)} subscriber(s) checked; writing them in one "
               "transaction", err=True)
    result = backup.import_rows(rows)
    click.echo(f"imported {len(rows)} subscriber(s) from {path}: {result.added} added, "
               f"{result.updated} updated, {result.sends_added} weekly send record(s) added")
