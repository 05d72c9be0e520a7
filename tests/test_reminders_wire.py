"""The SMTP fast path: message_bytes gives byte for byte what smtplib.send_message sends for build_message."""

from __future__ import annotations

import io
import random
import re
import string
from datetime import UTC, date, datetime
from email.generator import BytesGenerator

import pytest
import sqlalchemy as sa
from conftest import PL, SG1, SG2, WR
from smtp_server import Server

from wijkflow import services
from wijkflow.app import App
from wijkflow.reminders import render as render_mod
from wijkflow.reminders.mailers import MemoryMailer
from wijkflow.reminders.render import Rendered, build_message, deadline_ics, message_bytes
from wijkflow.reminders.sweep import sweep

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def as_smtplib_sends(msg, boundaries: list[bytes]) -> bytes:
    """What smtplib.send_message puts on the wire for `msg`, with the boundaries of the fast path's output
    (the generator draws them at random)."""
    msg.set_boundary(boundaries[0].decode())
    if len(boundaries) > 1:
        msg.get_payload()[0].set_boundary(boundaries[1].decode())
    out = io.BytesIO()
    BytesGenerator(out).flatten(msg, linesep="\r\n")  # as smtplib.send_message does for an ASCII envelope
    return out.getvalue()


def boundaries(data: bytes) -> list[bytes]:
    return re.findall(rb'boundary="([^"]+)"', data)


TRICKY_TEXTS = [
    "Beste Jösé,\n\nFrom now on: één regel.\n.\n. begint met een punt\nFrom \n" + "lang " * 40 + "\n",
    "regels\r\nmet CRLF\rlos CR\n\ttab en spaties aan het eind   \n=gelijk= en ==\n" + "x" * 200,
    "geen newline aan het eind: 👍 €",
    "",
    "\n",
    "From the start\nFrom",
]
TRICKY_SUBJECTS = [
    "Monitoringsrapportage gevraagd: Wijkaanpak Berflo Es (Berflo Es)",
    "Deadline nadert: Plan van aanpak vastgesteld door de stuurgroep en de gemeenteraad van Hengelo",
    "Fase loopt uit: Ä" * 12,
    "=?utf-8?q?geen_encoded_word?= maar tekst",
    "dubbele  spaties   en een tab\tin het onderwerp",
    "x" * 69,  # "Subject: " + 69 = 78 characters, the longest line left as it is
    "x" * 70,
    "a " * 40,
]
TRICKY_NAMES = [None, "", "Fleur Mensink", "Jösé d'Almeida, \"JJ\"", "Ådne <hack@x>", "Naam; met (commentaar)"]


@pytest.mark.parametrize("subject", TRICKY_SUBJECTS)
@pytest.mark.parametrize("with_ics", [False, True])
def test_message_bytes_is_what_smtplib_sends_for_build_message(subject, with_ics):
    for i, text in enumerate(TRICKY_TEXTS):
        rendered = Rendered(subject=subject, text=text, html=f"<p>{text}</p>\n<p>Ä &amp; ö</p>" if i % 2 else text)
        if with_ics:
            rendered.ics = deadline_ics(uid="deadline.1.plan@wijkflow", day=date(2026, 3, 9), stamp=NOW,
                                        summary=f"Deadline: {subject}", description="wijkflow complete x plan")
        for name in TRICKY_NAMES:
            for mail_from in ("wijkflow@hengelo.example", "Gemeente Hengelo (Wijkflow) <wijkflow@hengelo.example>",
                              "Gemeënte <wijkflow@hengelo.example>"):
                kw = {"mail_from": mail_from, "to_name": name, "to_addr": "fleur@hengelo.example",
                      "rendered": rendered, "message_id": "<reminder.42.7@hengelo.example>", "now": NOW,
                      "locale": "en" if i % 2 else "nl"}
                fast = message_bytes(**kw)
                assert fast == as_smtplib_sends(build_message(**kw), boundaries(fast)), (subject, text, name)


def test_headers_left_unfolded_are_exactly_the_ones_compat32_leaves_alone():
    rnd = random.Random(6)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "  \t"
    for _ in range(20_000):
        name = rnd.choice(["Subject", "To", "From", "Message-ID", "Content-Type", "X"])
        value = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 80)))
        if rnd.random() < 0.5:
            value = value.strip()
        assert render_mod._header(name, value) == render_mod._SMTP_COMPAT32.fold_binary(name, value), (name, value)


class WireMailer(MemoryMailer):
    """Takes bytes like the SMTP mailer does (and Message objects when it must)."""

    envelope_from = "wijkflow@hengelo.example"

    def __init__(self) -> None:
        super().__init__()
        self.wire: dict[str, bytes] = {}

    def send_bytes(self, data: bytes, to_addr: str) -> None:
        (mid,) = re.findall(rb"^Message-ID: (.+)\r$", data, re.MULTILINE)
        self.wire[mid.decode()] = data


def test_a_sweep_sends_the_same_bytes_on_the_fast_path_as_through_the_email_package(app, people, clock):
    services.add_person(app, "jose@hengelo.example", name="Jösé Ünal, \"JJ\"", acting="admin@hengelo.example")
    services.create_aanpak(app, "Wijkaanpak Berflo Es — ‘een lange naam’ met ëën heleboel tekens erin, echt waar",
                           wijk="Berflo Es", gemeente="Hengelo", leader=PL, coordinators=(WR, "jose@hengelo.example"),
                           approvers=(SG1, SG2), acting=PL, phase="monitor", since="2025-07-01")
    noord = services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                                   coordinators=(WR,), approvers=(SG1, SG2), acting=PL)["slug"]
    services.set_deadline(app, noord, "lokaal_contract", "2026-03-09", acting=PL)  # due today, with an .ics
    fast = WireMailer()
    first = sweep(app, mailer=fast)
    assert first.sent == len(fast.wire) >= 10 and fast.sent == []
    assert any(b"text/calendar" in data for data in fast.wire.values())
    with app.db.write() as conn:  # the same messages once more, through the email package this time
        conn.execute(sa.text("UPDATE reminder_message SET status = 'pending', claimed_by = NULL, "
                             "next_attempt_at = created_at"))
    reference = MemoryMailer()
    assert sweep(app, mailer=reference).sent == first.sent
    by_id = {msg["Message-ID"]: msg for _, msg in reference.sent}
    for mid, data in fast.wire.items():
        assert data == as_smtplib_sends(by_id[mid], boundaries(data))


def test_the_server_gets_no_message_before_the_one_it_accepted_last_is_recorded(app, people, db_url, clock):
    """The sweep opens a message's SMTP transaction while it records the one before, but its data,
    the moment the server accepts it, only follows that record: one accepted-unrecorded at most."""
    for i in range(3):
        services.create_aanpak(app, f"Aanpak {i}", wijk=f"Wijk {i}", leader=PL, coordinators=(WR,),
                               approvers=(SG2,), acting=PL, phase="monitor", since="2025-07-01")
    engine = sa.create_engine(db_url if "://" in db_url else f"sqlite:///{db_url}")
    seen: list[tuple[int, int]] = []
    try:
        with Server() as server:
            accept = server.handler.handle_DATA

            async def handle_data(srv, session, envelope):
                with engine.connect() as conn:
                    recorded = conn.execute(sa.text(
                        "SELECT count(*) FROM reminder_message WHERE status = 'sent'")).scalar_one()
                seen.append((len(server.handler.messages), recorded))  # (accepted so far, recorded as sent)
                return await accept(srv, session, envelope)

            server.handler.handle_DATA = handle_data
            smtp = App.open(db_url, clock=clock, smtp_host="127.0.0.1", smtp_port=server.port,
                            smtp_security="none", mail_from="wijkflow@hengelo.example")
            try:
                result = sweep(smtp)
            finally:
                smtp.close()
    finally:
        engine.dispose()
    assert result.sent == len(seen) == 15
    assert seen == [(k, k) for k in range(15)]
