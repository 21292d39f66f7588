"""The ``b12planner`` command: Flask's CLI group over the app factory, plus ours."""

from __future__ import annotations

import click
from flask.cli import FlaskGroup


def _create_app():
    """The app for commands that need one; a start-up problem is a message, not a traceback."""
    from foods.loader import TableError
    from planner import create_app
    from planner.security import MissingSecretKey

    try:
        return create_app()
    except (MissingSecretKey, TableError) as e:
        raise click.ClickException(str(e)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """B12 Planner: plan vitamin B12 intake, check the food table, send plans."""


def register_commands(group: click.Group) -> None:
    """Attach every project command; each module owns its command."""
    from planner.commands import assess
    from planner.commands import dishes
    from planner.commands import foods
    from planner.commands import handouts
    from planner.commands import mail
    from planner.commands import plan
    from planner.commands import subscribers

    group.add_command(foods.foods)
    group.add_command(dishes.dishes)
    group.add_command(assess.assess)
    group.add_command(plan.plan)
    group.add_command(mail.send_weekly)
    group.add_command(mail.worker)
    group.add_command(handouts.handouts)
    group.add_command(handouts.handouts_worker)
    group.add_command(subscribers.subscribers)


register_commands(cli)


def main() -> None:
    cli(prog_name="b12planner")
