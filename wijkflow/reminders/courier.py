"""The courier: SMTP pipelined with the outbox, kept because benchmarks/mail.py shows it pays.

An SMTP exchange is mostly waiting for the server. Sent one after the other, a sweep waits
for the server's answer, then records it (a transaction with its audit event), then renders
the next message, then waits again. The courier hands one message at a time to the mailer
on a thread of its own and splits the exchange where the server accepts the message:

    courier thread:  MAIL, RCPT, DATA (354) ........ wait for release ... the data, 250
    sweep thread:    record the previous outcome ... release ........... render the next one

The data, which is the moment the server takes the message, is only sent once the previous
outcome has committed. So never more than one message is accepted by the server and not
yet recorded: the same crash window as sending them one by one.

Only for a mailer that can open a transaction without sending its data (`begin`,
`complete`, `abandon`: the SMTP mailer) and an ASCII envelope (smtplib sends anything else
differently, SMTPUTF8). Other mailers are simply called in turn.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import Message
from typing import Any

from ..errors import DeliveryError
from .render import wire_bytes


def pipelines(mailer: Any) -> bool:
    """Whether the courier can carry this mailer's messages."""
    return hasattr(mailer, "begin") and str(getattr(mailer, "envelope_from", "")).isascii()


class Trip:
    """One message in the courier's hands: its envelope goes out at once, its data only when released."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.abandoned = False
        self.future: Future[DeliveryError | None] | None = None

    def release(self) -> None:
        self.released.set()

    def result(self) -> DeliveryError | None:
        assert self.future is not None
        return self.future.result()


class Courier:
    def __init__(self, mailer: Any) -> None:
        self.mailer = mailer
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wijkflow-smtp")
        self._trip: Trip | None = None

    def carry(self, msg: Message, to_addr: str) -> Trip:
        """Start sending `msg`: its transaction opens now, its data follows `Trip.release()`."""
        trip = Trip()
        trip.future = self._pool.submit(self._run, wire_bytes(msg), to_addr, trip)
        self._trip = trip
        return trip

    def _run(self, data: bytes, to_addr: str, trip: Trip) -> DeliveryError | None:
        try:
            self.mailer.begin(data, to_addr)
            trip.released.wait()
            if trip.abandoned:
                self.mailer.abandon()  # a transaction without its data is not delivered
                return None
            self.mailer.complete(data, to_addr)
        except DeliveryError as exc:
            return exc
        return None

    def close(self) -> None:
        """Abandon a message whose data was not released yet (it is never delivered) and stop."""
        trip = self._trip
        if trip is not None and not trip.released.is_set():
            trip.abandoned = True
            trip.release()
        self._pool.shutdown(wait=True)
