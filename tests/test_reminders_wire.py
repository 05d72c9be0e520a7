"""What goes over the wire: the email package's generator output, standard MIME, safe headers."""

from __future__ import annotations

import email
import io
import random
import re
import string
from datetime import UTC, date, datetime
from email import policy
from email.generator import BytesGenerator

import pytest
import sqlalchemy as sa
from conftest import PL, SG1, SG2, WR
from smtp_server import Server

from wijkflow import services
from wijkflow.app import App
from wijkflow.reminders.mailers import MemoryMailer
from wijkflow.reminders.render import POLICY, Rendered, build_message, deadline_ics, wire_bytes
from wijkflow.reminders.sweep import sweep

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def as_smtplib_sends(msg, boundaries: list[bytes]) -> bytes:
    """What smtplib.send_message puts on the wire for `msg`, with the boundaries of another copy's output
    (the generator draws them at random)."""
    msg.set_boundary(boundaries[0].decode())
    if len(boundaries) > 1:
        msg.get_payload()[0].set_boundary(boundaries[1].decode())
    out = io.BytesIO()
    # As smtplib.send_message does for an ASCII envelope, with the email package's own compat32 policy.
    BytesGenerator(out, policy=policy.compat32).flatten(msg, linesep="\r\n")
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
def test_the_wire_format_is_standard_mime_that_reads_back_as_written(subject, with_ics):
    for i, text in enumerate(TRICKY_TEXTS):
        html = f"<p>{text}</p>\n<p>Ä &amp; ö</p>" if i % 2 else text
        rendered = Rendered(subject=subject, text=text, html=html)
        if with_ics:
            rendered.ics = deadline_ics(uid="deadline.1.plan@wijkflow", day=date(2026, 3, 9), stamp=NOW,
                                        summary=f"Deadline: {subject}", description="wijkflow complete x plan")
        for name in TRICKY_NAMES:
            for mail_from in ("wijkflow@hengelo.example", "Gemeente Hengelo (Wijkflow) <wijkflow@hengelo.example>",
                              "Gemeënte <wijkflow@hengelo.example>"):
                kw = {"mail_from": mail_from, "to_name": name, "to_addr": "fleur@hengelo.example",
                      "rendered": rendered, "message_id": "<reminder.42.7@hengelo.example>", "now": NOW,
                      "locale": "en" if i % 2 else "nl"}
                data = wire_bytes(build_message(**kw))
                assert data == as_smtplib_sends(build_message(**kw), boundaries(data))  # compat32's own bytes
                # 7-bit, CRLF only, no line longer than SMTP allows; bodies quoted-printable UTF-8.
                assert data.isascii() and b"\n" not in data.replace(b"\r\n", b"") and b"\r" not in data.replace(
                    b"\r\n", b""), (subject, text, name)
                assert max(map(len, data.split(b"\r\n"))) <= 998
                assert data.count(b"Content-Transfer-Encoding: quoted-printable") == (3 if with_ics else 2)
                assert data.count(b'charset="utf-8"') == (3 if with_ics else 2)
                back = email.message_from_bytes(data, policy=policy.default)
                if "=?" not in subject:  # (an ASCII subject is written as it is, encoded-word look-alikes too)
                    assert back["Subject"].split() == subject.split(), subject
                assert back["Message-ID"] == "<reminder.42.7@hengelo.example>"
                assert back["To"].addresses[0].addr_spec == "fleur@hengelo.example"
                assert back["To"].addresses[0].display_name == (name or "")
                assert back["From"].addresses[0].addr_spec == "wijkflow@hengelo.example"
                assert back["Content-Language"] == ("en" if i % 2 else "nl")
                assert back["Auto-Submitted"] == "auto-generated"
                # Line ends become CRLF; a line starting "From " may come out ">From " (mbox-safe, as ever).
                for part, written in (("plain", text), ("html", html)):
                    got = re.sub(r"(?m)^>From", "From", back.get_body((part,)).get_content().replace("\r\n", "\n"))
                    assert got == written.replace("\r\n", "\n").replace("\r", "\n")
                ics = [p for p in back.iter_attachments() if p.get_content_type() == "text/calendar"]
                assert len(ics) == with_ics
                if with_ics:
                    assert ics[0].get_filename() == "deadline.ics" and ics[0].get_param("method") == "PUBLISH"


def test_the_wire_policy_folds_headers_exactly_as_compat32():
    rnd = random.Random(6)
    alphabet = string.ascii_letters + string.digits + string.punctuation + "  \t"
    wire = POLICY.clone(linesep="\r\n")
    for _ in range(20_000):
        name = rnd.choice(["Subject", "To", "From", "Message-ID", "Content-Type", "X"])
        value = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 80)))
        if rnd.random() < 0.5:
            value = value.strip()
        assert wire.fold_binary(name, value) == policy.compat32.clone(linesep="\r\n").fold_binary(name, value)
        assert POLICY.fold(name, value) == policy.compat32.fold(name, value), (name, value)


def test_header_values_never_carry_a_line_break():
    rendered = Rendered(subject="Onderwerp\r\nBcc: stiekem@x.example\x00", text="t", html="h")
    data = wire_bytes(build_message(mail_from="wijkflow@hengelo.example\nBcc: a@x.example",
                                    to_name="Fleur\r\nBcc: b@x.example", to_addr="fleur@hengelo.example",
                                    rendered=rendered, message_id="<m@x>", now=NOW, locale="nl"))
    back = email.message_from_bytes(data, policy=policy.default)
    assert back["Bcc"] is None and b"\x00" not in data
    assert back["Subject"] == "Onderwerp Bcc: stiekem@x.example"


def test_a_sweep_over_smtp_sends_what_the_email_package_generates(app, people, clock, db_url):
    services.add_person(app, "jose@hengelo.example", name="Jösé Ünal, \"JJ\"", acting="admin@hengelo.example")
    services.create_aanpak(app, "Wijkaanpak Berflo Es — ‘een lange naam’ met ëën heleboel tekens erin, echt waar",
                           wijk="Berflo Es", gemeente="Hengelo", leader=PL, coordinators=(WR, "jose@hengelo.example"),
                           approvers=(SG1, SG2), acting=PL, phase="monitor", since="2025-07-01")
    noord = services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                                   coordinators=(WR,), approvers=(SG1, SG2), acting=PL)["slug"]
    services.set_deadline(app, noord, "lokaal_contract", "2026-03-09", acting=PL)  # due today, with an .ics
    wire: dict[str, bytes] = {}
    with Server() as server:
        accept = server.handler.handle_DATA

        async def keep_the_bytes(srv, session, envelope):
            (mid,) = re.findall(rb"^Message-ID: (.+)\r$", envelope.original_content, re.MULTILINE)
            wire[mid.decode()] = envelope.original_content
            return await accept(srv, session, envelope)

        server.handler.handle_DATA = keep_the_bytes
        smtp = App.open(db_url, clock=clock, smtp_host="127.0.0.1", smtp_port=server.port, smtp_security="none",
                        mail_from="wijkflow@hengelo.example")
        try:
            first = sweep(smtp)
        finally:
            smtp.close()
    assert first.sent == len(wire) >= 10
    assert any(b"text/calendar" in data for data in wire.values())
    with app.db.write() as conn:  # the same messages once more, kept as Message objects this time
        conn.execute(sa.text("UPDATE reminder_message SET status = 'pending', claimed_by = NULL, "
                             "next_attempt_at = created_at"))
    reference, again = MemoryMailer(), App.open(db_url, clock=clock, mail_from="wijkflow@hengelo.example")
    try:
        assert sweep(again, mailer=reference).sent == first.sent
    finally:
        again.close()
    by_id = {msg["Message-ID"]: msg for _, msg in reference.sent}
    for mid, data in wire.items():
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
