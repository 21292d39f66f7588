"""The database-facing weekly-email tests again, on PostgreSQL.

A PostgreSQL server is started for this module (initdb and pg_ctl in a
temporary folder, as the ``postgres`` user when the tests run as root) on a
free loopback port; each test gets a fresh database, migrated to head. The
tests are the SQLite ones, imported: only ``database_url`` changes. Skipped
with a message when the PostgreSQL binaries are missing, unless ``CI`` is set.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from smtp_server import free_port
from test_commands_subscribers import (
    test_export_then_import_into_an_empty_store_restores_every_state,  # noqa: F401
)
from test_commands_subscribers import (  # noqa: F401
    test_importing_over_a_live_store_upserts_by_address_and_never_resubscribes,
)
from test_mail import test_the_migrations_create_the_schema_the_models_describe  # noqa: F401
from test_mail_run import (  # noqa: F401
    test_a_run_killed_at_any_point_and_restarted_sends_each_subscriber_exactly_once,
)
from test_mail_run import (  # noqa: F401
    test_a_run_killed_during_a_slow_data_leaves_it_in_doubt_and_every_rerun_says_so,
)
from test_mail_run import test_a_temporary_refusal_is_retried_then_left_for_the_next_run  # noqa: F401
from test_mail_run import test_an_unreachable_server_stops_the_run_and_loses_nothing  # noqa: F401
from test_mail_run import test_editing_preferences_changes_the_next_plan  # noqa: F401
from test_mail_run import test_identical_profiles_share_one_plan  # noqa: F401
from test_mail_run import test_in_doubt_emails_are_resent_only_when_asked_with_the_same_message_id  # noqa: F401
from test_mail_run import test_of_two_simultaneous_claims_exactly_one_wins  # noqa: F401
from test_mail_run import test_one_click_unsubscribe_stops_further_emails  # noqa: F401
from test_mail_run import test_one_recipient_refused_dropped_or_stalled_does_not_stop_the_run  # noqa: F401
from test_mail_run import test_refused_recipients_are_reported_failed_and_the_rest_delivered  # noqa: F401
from test_mail_run import test_subscribe_confirm_and_receive_the_weekly_plan  # noqa: F401
from test_mail_run import test_unconfirmed_addresses_get_nothing_and_a_second_run_sends_nothing  # noqa: F401
from test_mail_run import (  # noqa: F401
    test_with_redis_a_worker_killed_during_data_is_noticed_and_reported_in_doubt,
)
from test_mail_run import test_with_redis_the_workers_send_each_email_once_and_report_failures  # noqa: F401
from test_mail_subscribers import test_a_confirmation_link_applies_only_the_profile_it_was_sent_for  # noqa: F401
from test_mail_subscribers import (  # noqa: F401
    test_a_confirmed_subscribers_profile_changes_only_through_the_emailed_link,
)
from test_mail_subscribers import test_a_pending_change_expires_with_its_link  # noqa: F401
from test_mail_subscribers import test_a_stranger_cannot_set_a_subscribers_profile  # noqa: F401
from test_mail_subscribers import test_bad_expired_or_tampered_links_get_400_and_a_clear_page  # noqa: F401
from test_mail_subscribers import test_preferences_show_the_profile_and_save_it_with_csrf  # noqa: F401
from test_mail_subscribers import test_subscribing_again_after_unsubscribing_voids_the_old_links  # noqa: F401
from test_mail_subscribers import (  # noqa: F401
    test_the_same_address_in_any_case_is_one_subscriber_whose_profile_is_updated,
)

pytest_plugins = ["mail_fixtures"]
pytestmark = pytest.mark.postgres


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@pytest.fixture(scope="module")
def postgres():
    """A throw-away PostgreSQL server: yields its base URL (no database name)."""
    bindir = postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing (apt-get install postgresql)")
        pytest.skip("PostgreSQL is not installed; the PostgreSQL variant is not run")
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    folder = Path(tempfile.mkdtemp(prefix="b12-pg-"))
    if as_root:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()

    def pg(*args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([*run_as, *args], check=True, capture_output=True,
                              text=True, cwd=folder, **kw)

    pg(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
       "-E", "UTF8", "--no-sync")
    options = (f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
               "-c max_connections=100")
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l",
       str(folder / "server.log"), "-w", "-t", "60", "start")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m",
                        "immediate", "stop"], capture_output=True, cwd=folder)
        shutil.rmtree(folder, ignore_errors=True)


def _admin(base_url: str, sql: str) -> None:
    import psycopg2

    url = base_url.replace("postgresql+psycopg2://", "postgresql://") + "/postgres"
    for attempt in range(50):
        try:
            connection = psycopg2.connect(url)
            break
        except psycopg2.OperationalError:
            if attempt == 49:
                raise
            time.sleep(0.1)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
    finally:
        connection.close()


@pytest.fixture
def database_url(postgres):
    """A fresh, empty database for each test (the schema comes from the migrations)."""
    name = f"b12_{uuid.uuid4().hex[:12]}"
    _admin(postgres, f"CREATE DATABASE {name}")
    yield f"{postgres}/{name}"
    _admin(postgres, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_database_really_is_postgresql(mail_app):
    from planner.store.db import db

    with mail_app.app_context():
        assert db.engine.dialect.name == "postgresql"
