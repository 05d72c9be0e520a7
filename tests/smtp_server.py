"""A real SMTP server (aiosmtpd) on 127.0.0.1 whose answers a test can choose.

Also a pytest plugin (tests/conftest.py): the `server` fixture, and `smtp_app` for an App that sends to it
(closed when the test ends).
"""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from wijkflow.app import App


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    def __init__(self) -> None:
        self.messages: list[Any] = []  # parsed EmailMessage objects, as received
        self.envelopes: list[tuple[str, list[str]]] = []
        self.refuse: dict[str, str] = {}  # address -> answer (e.g. "550 5.1.1 ...")
        self.mode: str | None = None  # None | "421" | "mail421" | "554" | "drop" | "slow" | "hang"
        self.reject_after_data: str | None = None  # with mode "554": the address whose messages are refused
        self.delay = 0.0
        self.hanging = 0  # DATA commands held by "hang" mode (never recorded as received)

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "mail421":
            return "421 4.7.0 Try again later, closing connection"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.mode == "421":
            return "421 4.3.2 Service not available, try again later"
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.mode == "hang":
            # Hold the client until the mode changes, then refuse: the message never counts as received.
            self.hanging += 1
            while self.mode == "hang":
                await asyncio.sleep(0.02)
            return "451 4.3.0 try again"
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "554" and self.reject_after_data in envelope.rcpt_tos:
            return "554 5.6.0 Message content rejected"
        if self.mode == "drop":
            server.transport.close()  # the connection goes away before the server answers
            return "451 gone"
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.original_content, policy=policy.default))
        return "250 2.0.0 Message accepted for delivery"


class Server:
    def __init__(self, **controller_options: Any) -> None:
        self.handler = Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **controller_options)

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[Any]:
        return self.handler.messages


@pytest.fixture
def server() -> Iterator[Server]:
    with Server() as s:
        yield s


_opened: list[App] = []


def smtp_app(db_url: str, clock: Any, port: int, **extra: Any) -> App:
    """An App on `db_url` that sends to the test's SMTP server on `port`; `extra` are more settings by name."""
    flags = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "smtp_timeout": 2,
             "mail_from": "wijkflow@hengelo.example", **extra}
    app = App.open(db_url, clock=clock, **flags)
    _opened.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_smtp_apps() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()
