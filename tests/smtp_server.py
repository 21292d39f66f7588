"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, recording what it accepts.

``SmtpServer(handler)`` starts an aiosmtpd Controller on a free loopback port
in a background thread; ``Recorder`` keeps every accepted message (envelope
and parsed message). Options make it refuse recipients (550 or 450), wait
before answering, or call a hook on MAIL FROM / after DATA (the kill tests
use the hooks to stop a sender at an exact point of the SMTP dialogue).
Run as a script it is a discarding sink for the benchmark::

    python tests/smtp_server.py --port 2525
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


class Recorder:
    """aiosmtpd handler that records accepted messages.

    ``refuse``: addresses answered with 550 at RCPT; ``defer``: answered with
    450; ``drop``: the connection is closed at their RCPT, unanswered;
    ``stall``: their RCPT is answered only after ``stall_s`` seconds (past
    the sender's timeout). ``delay_mail``: seconds to wait before answering
    MAIL FROM (slows a run down while nothing is in doubt). ``slow_data``:
    seconds the server takes over a message after its final dot, before it
    keeps it; a client gone by then (killed, timed out) gets it discarded, as
    a server that has not yet queued a message does. ``on_mail(n)`` is called
    at the n-th MAIL FROM (1-based), ``after_data(n)`` after the n-th message
    was recorded and before the 250 answer; ``on_data_start(n)`` as the n-th
    final dot arrives (before ``slow_data``).
    """

    def __init__(self, *, refuse=(), defer=(), drop=(), stall=(), stall_s: float = 30.0,
                 delay_mail: float = 0.0, slow_data: float = 0.0,
                 on_mail: Callable[[int], None] | None = None,
                 after_data: Callable[[int], None] | None = None,
                 on_data_start: Callable[[int], None] | None = None,
                 keep: bool = True):
        self.refuse = {a.lower() for a in refuse}
        self.defer = {a.lower() for a in defer}
        self.drop = {a.lower() for a in drop}
        self.stall = {a.lower() for a in stall}
        self.stall_s, self.slow_data = stall_s, slow_data
        self.on_data_start = on_data_start
        self.datas = 0
        self.discarded = 0
        self.delay_mail = delay_mail
        self.on_mail, self.after_data, self.keep = on_mail, after_data, keep
        self.received: list[Received] = []
        self.count = 0
        self.mails = 0
        self._lock = threading.Lock()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mails += 1
        if self.on_mail:
            self.on_mail(self.mails)
        if self.delay_mail:
            await asyncio.sleep(self.delay_mail)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 No such mailbox here"
        if address.lower() in self.defer:
            return "450 4.2.0 Mailbox busy, try later"
        if address.lower() in self.drop:
            server.transport.close()
            return "421 4.3.0 Closing"  # never reaches the client
        if address.lower() in self.stall:
            await asyncio.sleep(self.stall_s)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.datas += 1
        if self.on_data_start:
            self.on_data_start(self.datas)
        if self.slow_data:
            try:
                await asyncio.sleep(self.slow_data)
            except asyncio.CancelledError:  # aiosmtpd cancels us when the client goes
                self.discarded += 1
                raise
            if server.transport is None or server.transport.is_closing():
                self.discarded += 1
                return "451 4.3.0 Client gone, message discarded"
        with self._lock:
            self.count += 1
            n = self.count
            if self.keep:
                self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                              bytes(envelope.original_content
                                                    or envelope.content)))
        if self.after_data:
            self.after_data(n)
        return "250 2.0.0 Message accepted"

    # -- reading what arrived ------------------------------------------------------

    def by_recipient(self) -> Counter:
        with self._lock:
            return Counter(r.lower() for m in self.received for r in m.rcpt_tos)

    def messages_to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m.message for m in self.received
                    if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"the SMTP server got {self.count} messages, "
                                     f"expected {n}")
            time.sleep(0.01)


class SmtpServer:
    """aiosmtpd on 127.0.0.1 and a free port, in a thread; a context manager."""

    def __init__(self, handler: Recorder | None = None, port: int | None = None):
        self.handler = handler or Recorder()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.controller = Controller(self.handler, hostname=self.host, port=self.port,
                                     ready_timeout=10)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()


def main() -> None:
    """A discarding sink (the benchmark's SMTP server). Prints "ready" once it
    listens and, when stopped (SIGTERM), how many messages it accepted."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    handler = Recorder(keep=False)
    with SmtpServer(handler, port=args.port):
        print("ready", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    print(handler.count, flush=True)


if __name__ == "__main__":
    main()
