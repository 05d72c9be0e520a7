"""Where messages go: an SMTP server from configuration, or .eml files in an outbox folder.

A mailer sends one message to one recipient and raises DeliveryError, which says whether
trying again later may help (connection refused, timeouts, 4xx) or not (5xx, a refused or
malformed address). smtplib's errors are mapped here and nowhere else. The password is read
when connecting and never stored on the mailer's repr, logged or put in an error.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import Message
from email.utils import parseaddr
from pathlib import Path

from ..config import Settings
from ..errors import DeliveryError

log = logging.getLogger(__name__)


class MemoryMailer:
    """Keeps messages in a list: for tests and for programs embedding wijkflow."""

    transport = "memory"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    def send(self, msg: Message, to_addr: str) -> None:
        self.sent.append((to_addr, msg))

    def close(self) -> None:
        pass


class OutboxMailer:
    """Writes each message as an .eml file; the name comes from the Message-ID, so a resend
    after a crash overwrites the same file instead of adding a second one."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.transport = f"outbox {self.directory}"

    def send(self, msg: Message, to_addr: str) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^A-Za-z0-9.@_-]", "", str(msg["Message-ID"])).replace("@", "_at_") + ".eml"
            tmp = self.directory / f".{name}.tmp"
            tmp.write_bytes(msg.as_bytes())
            os.replace(tmp, self.directory / name)
        except OSError as exc:
            raise DeliveryError(f"cannot write to the outbox {self.directory}: {exc.strerror or exc}",
                                retryable=True) from None

    def close(self) -> None:
        pass


class SmtpMailer:
    """One connection per sweep, opened on the first message and reopened after a failure."""

    def __init__(self, *, host: str, port: int | None, security: str, user: str | None,
                 password_env: str | None, password_file: str | None, timeout: float,
                 mail_from: str) -> None:
        self.host = host
        self.security = security
        self.port = port or {"ssl": 465, "starttls": 587}.get(security, 25)
        self.user = user
        self._password_env = password_env
        self._password_file = password_file
        self.timeout = timeout
        self.envelope_from = parseaddr(mail_from)[1] or mail_from
        self.transport = f"SMTP {host}:{self.port} ({security})"
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        return f"SmtpMailer({self.transport}, user={self.user!r})"

    def _password(self) -> str | None:
        if self._password_env:
            return self._password_env
        if self._password_file:
            try:
                return Path(self._password_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise DeliveryError(f"cannot read the SMTP password file {self._password_file}: "
                                    f"{exc.strerror or exc}", retryable=True) from None
        return None

    def _connect(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        context = ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if self.security == "ssl":
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self._password() or "")
        except Exception as exc:  # noqa: BLE001 - mapped in one place
            if smtp is not None:
                smtp.close()
            raise self._connect_error(exc) from None
        self._smtp = smtp
        return smtp

    def _connect_error(self, exc: Exception) -> DeliveryError:
        if isinstance(exc, DeliveryError):
            error = exc
        elif isinstance(exc, smtplib.SMTPAuthenticationError):
            # A configuration problem, not the message's: keep it queued until the login is fixed.
            answer = _answer(exc.smtp_code, exc.smtp_error)
            error = DeliveryError(f"the SMTP server refused the login for {self.user} ({answer})",
                                  retryable=True, answer=answer)
        elif isinstance(exc, smtplib.SMTPNotSupportedError) and "STARTTLS" in str(exc):
            error = DeliveryError(f"{self.host}:{self.port} does not offer STARTTLS; set "
                                  "WIJKFLOW_SMTP_SECURITY to ssl or none", retryable=True)
        elif isinstance(exc, smtplib.SMTPNotSupportedError):
            error = DeliveryError(f"{self.host}:{self.port} does not offer a login (SMTP AUTH) on this connection; "
                                  "check WIJKFLOW_SMTP_SECURITY and WIJKFLOW_SMTP_USER", retryable=True)
        else:
            error = self._map(exc)
            error.retryable = True  # refused while connecting: the message itself is fine, keep it
        error.connection = True
        return error

    def send(self, msg: Message, to_addr: str) -> None:
        self._deliver(lambda smtp: smtp.send_message(msg, from_addr=self.envelope_from, to_addrs=[to_addr]),
                      to_addr)

    # send() in two halves, for the courier (courier.py), which records one outcome while the next
    # message's transaction opens: `data` is the message as send_message flattens it
    # (render.wire_bytes), and the commands and replies are those of smtplib.sendmail.

    def begin(self, data: bytes, to_addr: str) -> None:
        """MAIL, RCPT and DATA for `data`, up to the server's 354; nothing is delivered yet."""
        self._deliver(lambda smtp: self._open(smtp, data, to_addr), to_addr)

    def complete(self, data: bytes, to_addr: str) -> None:
        """The data of the message `begin` opened, and the server's answer: accepted or not."""
        self._deliver(lambda smtp: self._finish(smtp, data), to_addr)

    def abandon(self) -> None:
        """Give up a transaction opened by `begin`: drop the connection, so that not even a QUIT
        is read as part of the message."""
        self._drop()

    def _open(self, smtp: smtplib.SMTP, data: bytes, to_addr: str) -> dict[str, tuple[int, bytes]]:
        smtp.ehlo_or_helo_if_needed()
        options = [f"size={len(data)}"] if smtp.does_esmtp and smtp.has_extn("size") else []
        code, resp = smtp.mail(self.envelope_from, options)
        if code != 250:
            _reset_or_close(smtp, code)
            raise smtplib.SMTPSenderRefused(code, resp, self.envelope_from)
        code, resp = smtp.rcpt(to_addr)
        if code not in (250, 251):
            _reset_or_close(smtp, code)
            raise smtplib.SMTPRecipientsRefused({to_addr: (code, resp)})
        smtp.putcmd("data")
        code, resp = smtp.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, resp)
        return {}

    def _finish(self, smtp: smtplib.SMTP, data: bytes) -> dict[str, tuple[int, bytes]]:
        quoted = _LEADING_DOT.sub(b"..", data)
        smtp.send(quoted + (b"" if quoted.endswith(b"\r\n") else b"\r\n") + b".\r\n")
        code, resp = smtp.getreply()
        if code != 250:
            _reset_or_close(smtp, code)
            raise smtplib.SMTPDataError(code, resp)
        return {}

    def _deliver(self, transmit: Callable[[smtplib.SMTP], dict[str, tuple[int, bytes]]], to_addr: str) -> None:
        smtp = self._connect()
        try:
            refused = transmit(smtp)
        except Exception as exc:  # noqa: BLE001 - mapped in one place
            error = self._map(exc)
            if error.retryable:
                self._drop()  # after a 4xx or a broken connection, start over with a fresh one
            raise error from None
        if refused:
            code, text = refused[to_addr]
            raise DeliveryError(f"the server refused {to_addr}: {_answer(code, text)}",
                                retryable=400 <= code < 500, answer=_answer(code, text))

    def _map(self, exc: BaseException) -> DeliveryError:
        where = f"{self.host}:{self.port}"
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            (addr, (code, text)), *_ = exc.recipients.items()
            return DeliveryError(f"the server refused {addr}: {_answer(code, text)}", retryable=400 <= code < 500,
                                 answer=_answer(code, text), connection=code == 421)
        if isinstance(exc, smtplib.SMTPResponseException):
            answer = _answer(exc.smtp_code, exc.smtp_error)
            # 421: the server is shutting the channel; the rest of the batch would get the same answer.
            return DeliveryError(f"the server at {where} answered {answer}",
                                 retryable=not 500 <= exc.smtp_code < 600, answer=answer,
                                 connection=exc.smtp_code == 421)
        if isinstance(exc, socket.timeout | TimeoutError) or (
                isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError)):
            return DeliveryError(f"the server at {where} did not answer within {self.timeout:g} s", retryable=True,
                                 connection=True)
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return DeliveryError(f"the server at {where} closed the connection ({exc or 'no reason given'})",
                                 retryable=True, connection=True)
        if isinstance(exc, ConnectionRefusedError):
            return DeliveryError(f"cannot connect to the SMTP server at {where} (connection refused)",
                                 retryable=True)
        if isinstance(exc, ssl.SSLError):
            return DeliveryError(f"TLS with {where} failed ({exc.reason or exc})", retryable=True)
        if isinstance(exc, OSError):
            return DeliveryError(f"cannot reach the SMTP server at {where} ({exc.strerror or exc})", retryable=True)
        if isinstance(exc, smtplib.SMTPException):
            return DeliveryError(f"SMTP error with {where}: {exc}", retryable=True)
        return DeliveryError(f"unexpected {type(exc).__name__} while sending via {where}: {exc}", retryable=True)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.close()
            except Exception:  # noqa: BLE001 - the connection is already broken
                pass

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except Exception:  # noqa: BLE001 - closing a broken connection is not an error
                smtp.close()


_LEADING_DOT = re.compile(rb"(?m)^\.")


def _reset_or_close(smtp: smtplib.SMTP, code: int) -> None:
    """What sendmail does after a refusal: 421 closes the channel, anything else resets the transaction."""
    if code == 421:
        smtp.close()
        return
    try:
        smtp.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"


def mailer_for(settings: Settings) -> SmtpMailer | OutboxMailer:
    """SMTP when a host is configured, else the .eml outbox folder (the embedded default)."""
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return SmtpMailer(host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                          user=settings.smtp_user, password_env=password,
                          password_file=settings.smtp_password_file, timeout=settings.smtp_timeout,
                          mail_from=settings.mail_from)
    return OutboxMailer(settings.outbox_dir)
