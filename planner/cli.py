"""The ``b12planner`` command: Flask's CLI group over the app factory, plus ours."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup
from flask_migrate.cli import db as db_commands

from foods.loader import TableError
from planner.app import create_app
from planner.commands import assess
from planner.commands import dishes
from planner.commands import foods
from planner.commands import handouts
from planner.commands import mail
from planner.commands import plan
from planner.commands import subscribers
from planner.security import MissingSecretKey


class NoSecret(click.ClickException):
    """A command that needs the app was run without a secret: say where to set it, exit 2."""

    exit_code = 2


def _create_app():
    """The app for commands that need one; a start-up problem is a message, not a traceback."""
    try:
        return create_app()
    except MissingSecretKey as e:
        raise NoSecret(str(e)) from None
    except TableError as e:
        raise click.ClickException(str(e)) from None


class PlannerGroup(FlaskGroup):
    """Lists every command without building the app, so ``--help`` works on a fresh
    clone (no secret yet); a command that needs the app builds it when run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return sorted(click.Group.list_commands(self, ctx))


@click.group(cls=PlannerGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """B12 Planner: plan vitamin B12 intake, check the food table, send plans."""


def register_commands(group: click.Group) -> None:
    """Attach every project command; each module owns its command."""
    group.add_command(foods.foods)
    group.add_command(dishes.dishes)
    group.add_command(assess.assess)
    group.add_command(plan.plan)
    group.add_command(mail.send_weekly)
    group.add_command(mail.worker)
    group.add_command(handouts.handouts)
    group.add_command(handouts.handouts_worker)
    group.add_command(subscribers.subscribers)
    group.add_command(db_commands, "db")  # Flask-Migrate's, listed without the app


register_commands(cli)


def main() -> None:
    cli(prog_name="b12planner")
