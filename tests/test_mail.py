"""Messages, SMTP delivery, addresses, signed links and the migrations."""

from __future__ import annotations

import ast
import email
import email.policy
import socketserver
import threading
from datetime import UTC
from datetime import datetime
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner
from mail_support import add_subscribers
from smtp_server import Recorder
from smtp_server import SmtpServer
from smtp_server import free_port
from sqlalchemy import inspect

from planner.mail import smtp as mail
from planner.mail import subscribers as store

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations" / "versions"
NOW = datetime(2025, 2, 10, 7, 0, tzinfo=UTC)

pytest_plugins = ["mail_fixtures"]


def message(**overrides):
    fields = dict(sender="B12 Planner <plans@b12.test>", to="ann@example.org",
                  subject="Your plan", text="Plain text, 10 µg.\n.leading dot\n",
                  html="<p>HTML, 10 µg.</p>", message_id="<1.2025-W07@b12.test>",
                  date=NOW, unsubscribe_url="https://b12.test/unsubscribe/"
                  "eyJpZCI6MSwidiI6MX0.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
    fields.update(overrides)
    return mail.build_message(**fields)


# ---- building messages ------------------------------------------------------------


def test_message_has_a_text_and_an_html_part_and_list_headers():
    raw = mail.message_bytes(message())
    parsed = email.message_from_bytes(raw, policy=email.policy.default)

    assert parsed.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert "10 µg" in parsed.get_body(("plain",)).get_content()
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # the URL stays readable on one header line, not an RFC 2047 encoded word
    assert b"\r\nList-Unsubscribe: <https://b12.test/unsubscribe/eyJ" in raw
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))


def test_mailto_unsubscribe_is_listed_after_the_link_when_configured():
    msg = message(unsubscribe_mailto="leave@b12.test")
    assert msg["List-Unsubscribe"].endswith(", <mailto:leave@b12.test?subject=unsubscribe>")


@pytest.mark.parametrize("to", ["a@b.com\r\nBcc: x@y.com", "a@b.com\nBcc: x@y.com",
                                "a@b.com, c@d.com"])
def test_message_refuses_recipients_that_would_add_headers_or_addresses(to):
    with pytest.raises((ValueError, IndexError, TypeError)):
        mail.message_bytes(message(to=to))


def test_message_refuses_a_subject_with_a_line_break():
    with pytest.raises(ValueError):
        message(subject="Plan\r\nBcc: x@y.com")


def test_lines_starting_with_a_dot_are_doubled_for_smtp():
    data = mail.as_smtp_bytes(message())
    assert b"\r\n..leading dot" in data
    assert data.endswith(b"\r\n")


# ---- checking addresses ------------------------------------------------------------


@pytest.mark.parametrize("text", ["ann@example.org", " Ann.Lee+b12@mail.example.co.uk ",
                                  "x@xn--bcher-kva.example"])
def test_plain_addresses_are_accepted(text):
    assert store.check_email(text) == text.strip()


@pytest.mark.parametrize("text", [
    "a@b.com\r\nBcc: x@y.com", "a@b.com\nBcc: x@y.com", "a@b.com\rBcc: x@y.com",
    "a@b.com%0d%0aBcc:x@y.com", "a@b.com, c@d.com", "a@b.com;c@d.com",
    "Ann <a@b.com>", "a@b.com\x00", "a b@c.com", '"a"@b.com', "a@@b.com", "a@b",
    "@b.com", "a@", "a@-b.com", "a..b@c.com", ".a@b.com", "a@b.123",
    "ännä@b.com", "a@" + "b" * 250 + ".com", "a" * 65 + "@b.com", "", "   ",
    "a@b.com\tc@d.com",
])
def test_anything_but_one_plain_address_is_refused(text):
    with pytest.raises(store.InvalidEmail):
        store.check_email(text)


# ---- signed links ------------------------------------------------------------------


def test_a_link_reads_back_for_its_own_purpose_only(mail_app):
    add_subscribers(mail_app, 1)
    with mail_app.app_context():
        subscriber = store.db.session.get(store.Subscriber, 1)
        token = store.make_token(subscriber, "preferences")
        assert store.read_token(token, "preferences").id == 1
        with pytest.raises(store.BadToken):
            store.read_token(token, "unsubscribe")
        with pytest.raises(store.BadToken):
            store.read_token(token[:-2] + ("AA" if token[-2:] != "AA" else "BB"),
                             "preferences")
        with pytest.raises(store.BadToken):
            store.read_token("not-a-token", "preferences")


def test_an_expired_link_is_refused(mail_app, monkeypatch):
    from planner.domain.profile import parse_profile

    add_subscribers(mail_app, 1)
    with mail_app.app_context():
        # a confirmation link exists only for a pending profile
        subscriber = store.subscribe("reader00000@example.org",
                                     parse_profile({"age_years": 50, "diet": "vegan"}))
        real = TimestampSigner.get_timestamp
        monkeypatch.setattr(TimestampSigner, "get_timestamp",
                            lambda self: real(self) - 4 * 24 * 3600)
        old = store.make_token(subscriber, "confirm")
        monkeypatch.undo()
        with pytest.raises(store.BadToken, match="expired"):
            store.read_token(old, "confirm")
        assert store.read_token(store.make_token(subscriber, "confirm"), "confirm")


def test_raising_the_token_version_voids_older_links(mail_app):
    add_subscribers(mail_app, 1)
    with mail_app.app_context():
        subscriber = store.db.session.get(store.Subscriber, 1)
        token = store.make_token(subscriber, "unsubscribe")
        subscriber.token_version += 1
        store.db.session.commit()
        with pytest.raises(store.BadToken, match="no longer valid"):
            store.read_token(token, "unsubscribe")


# ---- SMTP delivery -----------------------------------------------------------------


class PeerRecorder(Recorder):
    """Also notes each mail_client connection that sends MAIL FROM."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.peers = set()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.peers.add(session.peer)
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


def test_one_connection_carries_many_messages():
    handler = PeerRecorder()
    with SmtpServer(handler) as server, mail.SmtpMailer(server.host, server.port) as smtp:
        for i in range(5):
            smtp.send(message(to=f"r{i}@example.org"), sender="plans@b12.test",
                      recipient=f"r{i}@example.org")
    assert handler.count == 5
    assert len(handler.peers) == 1
    assert handler.received[0].rcpt_tos == ["r0@example.org"]


def test_the_envelope_defaults_to_the_from_and_to_headers():
    handler = Recorder()
    with SmtpServer(handler) as server, mail.SmtpMailer(server.host, server.port) as smtp:
        reply = smtp.send(message(to="bob@example.org"))
    assert reply.startswith("250")
    assert (handler.received[0].mail_from, handler.received[0].rcpt_tos) == (
        "plans@b12.test", ["bob@example.org"])


def test_nothing_is_delivered_when_the_claim_is_refused():
    handler = Recorder()
    with SmtpServer(handler) as server, mail.SmtpMailer(server.host, server.port) as smtp:
        with pytest.raises(mail.Aborted):
            smtp.send(message(), sender="plans@b12.test", recipient="ann@example.org",
                      before_commit=lambda: False)
        smtp.send(message(), sender="plans@b12.test", recipient="bob@example.org",
                  before_commit=lambda: True)
    assert handler.by_recipient() == {"bob@example.org": 1}


def test_the_claim_happens_after_the_body_and_before_the_server_takes_it():
    handler = Recorder()
    seen = []
    with SmtpServer(handler) as server, mail.SmtpMailer(server.host, server.port) as smtp:
        smtp.send(message(), sender="plans@b12.test", recipient="ann@example.org",
                  before_commit=lambda: seen.append(handler.count) or True)
    assert seen == [0] and handler.count == 1


@pytest.mark.parametrize("refusal, permanent", [("refuse", True), ("defer", False)])
def test_refused_recipients_raise_refused_and_the_connection_stays_usable(refusal,
                                                                          permanent):
    handler = Recorder(**{refusal: ["gone@example.org"]})
    with SmtpServer(handler) as server, mail.SmtpMailer(server.host, server.port) as smtp:
        with pytest.raises(mail.Refused) as e:
            smtp.send(message(), sender="plans@b12.test", recipient="gone@example.org")
        assert e.value.permanent is permanent
        smtp.send(message(), sender="plans@b12.test", recipient="ann@example.org")
    assert handler.by_recipient() == {"ann@example.org": 1}


def test_no_server_is_connection_trouble():
    smtp = mail.SmtpMailer("127.0.0.1", free_port(), timeout=2)
    with pytest.raises(mail.ConnectionTrouble, match="cannot use SMTP server"):
        smtp.send(message(), sender="plans@b12.test", recipient="ann@example.org")


class SilentAfterDot(socketserver.StreamRequestHandler):
    """A bare SMTP server that takes the message, then drops the line unanswered."""

    received: list[bytes] = []

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        while line := self.rfile.readline():
            command = line[:4].upper()
            if command in (b"EHLO", b"HELO"):
                self.wfile.write(b"250 test\r\n")
            elif command == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = b"".join(iter(self.rfile.readline, b".\r\n"))
                SilentAfterDot.received.append(body)
                return  # the connection closes: no 250
            else:
                self.wfile.write(b"250 OK\r\n")


def test_a_lost_answer_after_the_final_dot_is_in_doubt():
    server = socketserver.TCPServer(("127.0.0.1", 0), SilentAfterDot)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        smtp = mail.SmtpMailer("127.0.0.1", server.server_address[1], timeout=5)
        with pytest.raises(mail.InDoubt):
            smtp.send(message(), sender="plans@b12.test", recipient="ann@example.org")
    finally:
        server.shutdown()
        server.server_close()
    assert len(SilentAfterDot.received) == 1  # the server has it: hence "in doubt"


# ---- schema and migrations ---------------------------------------------------------


def test_the_app_creates_no_tables_by_itself(tmp_path):
    from planner import create_app
    from planner.store.db import db

    mail_app = create_app({"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": str(tmp_path)})
    with mail_app.app_context():
        assert mail_app.config["SQLALCHEMY_DATABASE_URI"] == (
            f"sqlite:///{tmp_path / 'b12.sqlite'}")
        assert inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_the_migrations_create_the_schema_the_models_describe(mail_app):
    from planner.store.db import db

    with mail_app.app_context():
        inspector = inspect(db.engine)
        assert {"subscribers", "sends", "alembic_version"} <= set(inspector.get_table_names())
        for table in ("subscribers", "sends"):
            in_db = {c["name"] for c in inspector.get_columns(table)}
            assert in_db == set(db.metadata.tables[table].columns.keys())
        uniques = [u["column_names"] for u in inspector.get_unique_constraints("sends")]
        assert ["subscriber_id", "week"] in uniques


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def _first_arg(call: ast.Call):
    return call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else None


@pytest.mark.parametrize("path", sorted(MIGRATIONS.glob("*.py")), ids=lambda p: p.name)
def test_no_migration_upgrade_drops_subscriber_data(path):
    tree = ast.parse(path.read_text())
    upgrade = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                   and n.name == "upgrade")
    for node in ast.walk(upgrade):
        if isinstance(node, ast.Call):
            assert _name(node) != "drop_table", f"{path.name} drops a table"
            assert not (_name(node) == "drop_column" and _first_arg(node) == "subscribers")
        if isinstance(node, ast.With):
            batch = [item.context_expr for item in node.items
                     if isinstance(item.context_expr, ast.Call)
                     and _name(item.context_expr) == "batch_alter_table"
                     and _first_arg(item.context_expr) == "subscribers"]
            if batch:
                drops = [c for c in ast.walk(node)
                         if isinstance(c, ast.Call) and _name(c) == "drop_column"]
                assert not drops, f"{path.name} drops a subscribers column"
