"""SMTP servers that fail where aiosmtpd cannot be made to: at the greeting, and in the middle of DATA.

Plain sockets on 127.0.0.1, one thread: `with FaultServer("greet421") as s: ... s.port`.
  greet421      answers every connection with "421 4.3.2 ..." and closes it
  hang          accepts and never says a word (the client's timeout must end it)
  drop_in_data  speaks SMTP up to DATA's 354, reads part of the message and closes the connection
"""

from __future__ import annotations

import socket
import threading
from typing import Any

MODES = ("greet421", "hang", "drop_in_data")


class FaultServer:
    def __init__(self, mode: str) -> None:
        assert mode in MODES
        self.mode = mode
        self.connections = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            if self.mode == "hang":
                self._held.append(conn)  # never answered; closed when the server stops
                continue
            try:
                if self.mode == "greet421":
                    conn.sendall(b"421 4.3.2 Too many connections, try again later\r\n")
                else:
                    self._until_data(conn)
            except OSError:
                pass
            finally:
                conn.close()

    def _until_data(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        conn.sendall(b"220 fault.example ESMTP\r\n")
        reader = conn.makefile("rb")
        while True:
            line = reader.readline()
            if not line:
                return
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(b"250-fault.example\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                reader.readline()  # the first line of the message, then the line goes dead
                conn.shutdown(socket.SHUT_RDWR)
                return
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                conn.sendall(b"250 OK\r\n")
