"""Email messages and SMTP delivery (stdlib ``email`` and ``smtplib`` only).

:func:`build_message` makes a ``multipart/alternative`` message (plain text
first, HTML second) with the headers a list mail needs: From, To, Subject,
Date, Message-ID and, for the weekly email, List-Unsubscribe and
List-Unsubscribe-Post (RFC 2369, RFC 8058). The email package refuses header
values with line breaks, and addresses are checked before they get here, so
no user text can add a header or a recipient.

:class:`SmtpMailer` keeps one SMTP connection open across messages and
speaks the transaction itself so a caller can act at the last moment before
the server may accept a message: ``send(..., before_commit=claim)`` uploads
the whole body, then calls ``claim()``, and only when it returns True sends
the final ``.`` that asks the server to take the message. Everything before
that dot can be abandoned without delivering anything. What can go wrong is
raised as one of four exceptions, each saying whether the message could have
been delivered:

* :class:`Refused` — the server refused this recipient or this message
  (``permanent`` for 5xx). Not delivered; the connection stays usable.
* :class:`ConnectionTrouble` — the connection broke or timed out before the
  final dot (while this message's envelope or body was on the way). Not
  delivered. Its subclass :class:`Unreachable` is trouble with the server
  itself, not with one message: no connection, TLS or login failure, or the
  sender refused.
* :class:`InDoubt` — the connection broke or timed out after the final dot,
  before the server answered. The message may have been accepted.
* :class:`Aborted` — ``before_commit`` returned False. Not delivered.
"""

from __future__ import annotations

import binascii
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.message import MIMEPart
from email.policy import SMTP
from email.utils import format_datetime
from email.utils import parseaddr


class MailError(Exception):
    """Base of the delivery errors below."""


class Refused(MailError):
    def __init__(self, code: int, message: str):
        self.code = code
        self.permanent = 500 <= code < 600
        super().__init__(f"{code} {message}")


class ConnectionTrouble(MailError):
    pass


class Unreachable(ConnectionTrouble):
    """The server cannot be used at all (connect, TLS, login, or sender refused)."""


class InDoubt(MailError):
    pass


class Aborted(MailError):
    pass


# Messages are built with the SMTP policy (CRLF, 76-character quoted-printable
# lines) and written out with header lines allowed up to RFC 5322's 998
# characters: folding a long List-Unsubscribe URL would turn it into an
# encoded word that mail programs do not read.
OUTPUT_POLICY = SMTP.clone(max_line_length=998)


def address(text: str) -> Address:
    """``"B12 Planner <plans@example.org>"`` or a bare address → Address (checked)."""
    name, spec = parseaddr(text)
    if not spec or "@" not in spec or any(c in text for c in "\r\n"):
        raise ValueError(f"{text!r} is not an email address")
    return Address(display_name=name, addr_spec=spec)


def build_message(*, sender: str, to: str, subject: str, text: str, html: str,
                  message_id: str, date, unsubscribe_url: str | None = None,
                  unsubscribe_mailto: str | None = None) -> EmailMessage:
    """A multipart/alternative message; ``date`` is an aware datetime.

    With ``unsubscribe_url`` the message carries List-Unsubscribe (the https
    link first, then ``mailto:`` when given) and ``List-Unsubscribe-Post:
    List-Unsubscribe=One-Click`` so mail programs can offer a one-click
    unsubscribe that POSTs to the link.
    """
    msg = EmailMessage(policy=SMTP)
    msg["From"] = address(sender)
    msg["To"] = Address(addr_spec=to)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        targets = [f"<{unsubscribe_url}>"]
        if unsubscribe_mailto:
            targets.append(f"<mailto:{unsubscribe_mailto}?subject=unsubscribe>")
        msg["List-Unsubscribe"] = ", ".join(targets)
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.make_alternative()
    msg.attach(text_part(text, "plain"))
    msg.attach(text_part(html, "html"))
    return msg


def text_part(body: str, subtype: str) -> MIMEPart:
    """A UTF-8 text part in quoted-printable: 7-bit on the wire (no server needs
    8BITMIME for "µg"), 76-character lines, encoded by binascii (C, fast)."""
    part = MIMEPart(policy=SMTP)
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii"))
    return part


def message_bytes(msg: EmailMessage) -> bytes:
    """The message as written to a file or sent (before dot-stuffing)."""
    return msg.as_bytes(policy=OUTPUT_POLICY)


def as_smtp_bytes(msg: EmailMessage) -> bytes:
    """The message as sent in DATA: CRLF line ends, lines starting with '.' doubled."""
    data = message_bytes(msg)
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class SmtpMailer:
    """One SMTP connection, opened on first use and reused for every message.

    ``starttls`` upgrades the connection before login; ``username`` and
    ``password`` are used only when both are set. ``timeout`` [s] applies to
    every network wait. ``deadline`` [s], when set, bounds each whole
    :meth:`send`, connecting included: when it passes, the socket is shut
    down, whatever the server is doing (a server trickling one byte at a time
    would otherwise reset ``timeout`` with every byte), and the send fails.
    """

    def __init__(self, host: str, port: int = 25, *, starttls: bool = False,
                 username: str | None = None, password: str | None = None,
                 timeout: float = 10.0, local_hostname: str | None = None,
                 deadline: float | None = None):
        self.host, self.port = host, int(port)
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout, self.local_hostname = timeout, local_hostname
        self.deadline = deadline
        self._smtp: smtplib.SMTP | None = None
        self._opening: smtplib.SMTP | None = None
        self._ends: float | None = None

    @classmethod
    def from_config(cls, config, *, deadline: float | None = None) -> SmtpMailer:
        password = config.get("SMTP_PASSWORD")
        username = config.get("SMTP_USERNAME")
        return cls(
            str(config.get("SMTP_HOST") or "localhost"), int(config.get("SMTP_PORT") or 25),
            starttls=_flag(config.get("SMTP_STARTTLS")),
            username=None if username is None else str(username),
            password=None if password is None else str(password),
            timeout=float(config.get("SMTP_TIMEOUT") or 10),
            deadline=deadline,
        )

    def __enter__(self) -> SmtpMailer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        timeout = self.timeout
        if self._ends is not None:
            timeout = max(0.05, min(timeout, self._ends - time.monotonic()))
        try:
            smtp = self._opening = smtplib.SMTP(timeout=timeout,
                                                local_hostname=self.local_hostname)
            smtp.connect(self.host, self.port)
            # The final dot goes out as its own small write after the claim;
            # without this, Nagle's algorithm holds it for the server's delayed ACK.
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if self.username and self.password:
                smtp.login(self.username, self.password)
        except (OSError, smtplib.SMTPException) as e:
            self._opening = None
            raise Unreachable(f"cannot use SMTP server {self.host}:{self.port}: "
                              f"{_describe(e)}") from None
        self._smtp, self._opening = smtp, None
        return smtp

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()

    def _drop(self) -> None:
        """Close without QUIT: used mid-transaction, where QUIT is not allowed."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    def send(self, msg: EmailMessage, *, sender: str | None = None,
             recipient: str | None = None,
             before_commit: Callable[[], bool] | None = None) -> str:
        """Deliver ``msg``; returns the server's acceptance reply.

        The envelope is ``sender`` and ``recipient`` when given, else the
        addresses of the From and To headers (one recipient per message).
        Raises Refused, ConnectionTrouble, InDoubt or Aborted (module docstring).
        """
        if self.deadline is None:
            return self._send(msg, sender, recipient, before_commit)
        self._ends = time.monotonic() + self.deadline
        timer = threading.Timer(self.deadline, self._time_up)
        timer.daemon = True
        timer.start()
        try:
            return self._send(msg, sender, recipient, before_commit)
        except MailError as e:
            if time.monotonic() >= self._ends and not isinstance(e, Refused):
                raise _past_deadline(e, self.deadline) from None
            raise
        finally:
            timer.cancel()
            self._ends = None

    def _time_up(self) -> None:
        """The deadline passed: cut the connection so the waiting call returns."""
        for smtp in (self._smtp, self._opening):
            sock = getattr(smtp, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _send(self, msg, sender, recipient, before_commit) -> str:
        sender = sender or msg["From"].addresses[0].addr_spec
        recipient = recipient or msg["To"].addresses[0].addr_spec
        data = as_smtp_bytes(msg)
        try:
            smtp = self._begin(sender, recipient)
            code, reply = smtp.docmd("DATA")
            if code != 354:
                self._reset(smtp)
                raise Refused(code, _text(reply))
            smtp.send(data)
        except (OSError, smtplib.SMTPException) as e:
            self._drop()
            raise ConnectionTrouble(f"connection lost before the message was complete: "
                                    f"{_describe(e)}") from None
        if before_commit is not None:
            try:
                go = before_commit()
            except BaseException:
                self._drop()  # the server discards a DATA section that never ends
                raise
            if not go:
                self._drop()
                raise Aborted("not sent: another run claimed this message")
        try:
            smtp.send(b".\r\n")
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPException) as e:
            self._drop()
            raise InDoubt(f"no answer after the message was handed over: "
                          f"{_describe(e)}") from None
        if code != 250:
            raise Refused(code, _text(reply))
        return f"{code} {_text(reply)}"

    def _begin(self, sender: str, recipient: str) -> smtplib.SMTP:
        """MAIL FROM and RCPT TO, reconnecting once if an idle connection was dropped."""
        for attempt in (1, 2):
            smtp = self.connect()
            try:
                code, reply = smtp.mail(sender)
                break
            except OSError:  # smtplib's errors are OSErrors too
                self._drop()
                if attempt == 2:
                    raise
        if code != 250:
            self._reset(smtp)
            raise Unreachable(f"the server refused the sender {sender}: "
                              f"{code} {_text(reply)}")
        code, reply = smtp.rcpt(recipient)
        if code not in (250, 251):
            self._reset(smtp)
            raise Refused(code, _text(reply))
        return smtp

    def _reset(self, smtp: smtplib.SMTP) -> None:
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()


def _past_deadline(e: MailError, deadline: float) -> MailError:
    """The same kind of error, saying the deadline cut it short."""
    return type(e)(f"no answer within the {deadline:g} s deadline ({e})")


def _flag(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _text(reply) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _describe(e: BaseException) -> str:
    if isinstance(e, socket.timeout):
        return "timed out"
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
