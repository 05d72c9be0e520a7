"""Once means once, and corrections as their own audited events that point at what they correct."""

from __future__ import annotations

import json

import sqlalchemy as sa
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import services
from wijkflow.services import audit as audit_service
from wijkflow.services.asof import show_as_of

REF = "wijkaanpak-noord"


def criterion(app, key):
    gate = services.gate_status(app, REF)
    return next(c for c in gate["criteria"] if c["key"] == key)


def events(app, type_):
    return [e for e in services.history(app, REF) if e["type"] == type_]


# --- once means once -----------------------------------------------------------------------------


def test_a_second_approval_is_refused_with_who_and_when(app, aanpak, run, db_state):
    services.complete(app, REF, "lokaal_contract", evidence="lc.pdf", acting=PL)
    assert run("approve", REF, "lokaal_contract_akkoord", "--comment", "akkoord", user=SG1).exit_code == 0
    before = db_state()
    for who in (SG1, SG2):
        r = run("approve", REF, "lokaal_contract_akkoord", "--comment", "nog eens", user=who)
        assert r.exit_code == 6, r.stderr
        assert r.stderr.startswith("Error: 'lokaal_contract_akkoord' is already approved by Robert Olde Heuvel "
                                   "on 2026-03-02; nothing was changed")
    assert db_state() == before


def test_an_approval_may_be_given_again_after_the_deliverable_changed(app, aanpak, clock):
    services.complete(app, REF, "lokaal_contract", evidence="lc.pdf", acting=PL)
    services.approve(app, REF, "lokaal_contract_akkoord", acting=SG1)
    clock.forward(1)
    services.complete(app, REF, "lokaal_contract", evidence="lc-v2.pdf", acting=PL)
    clock.forward(1)
    assert services.approve(app, REF, "lokaal_contract_akkoord", acting=SG1)["approved"]


def test_an_identical_measurement_is_refused(app, aanpak, run, db_state, clock):
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    assert run("measure", REF, "bewoners", "41", "--date", "2026-03-02", user=WR).exit_code == 0
    before = db_state()
    r = run("measure", REF, "bewoners", "41,0", "--date", "2026-03-02", user=PL)
    assert r.exit_code == 6 and "already has bewoners = 41 measured on 2026-03-02" in r.stderr
    assert db_state() == before
    # Another value or another day is another measurement.
    assert run("measure", REF, "bewoners", "42", "--date", "2026-03-02", user=WR).exit_code == 0
    clock.forward(1)
    assert run("measure", REF, "bewoners", "41", user=WR).exit_code == 0


def test_a_duplicate_intended_result_is_refused(app, aanpak, run, db_state):
    assert run("theme", "add", REF, "Wonen", "--result", "Meer sociale huur", user=PL).exit_code == 0
    before = db_state()
    r = run("theme", "add", REF, "Wonen", "--result", "meer  sociale huur ", user=PL)
    assert r.exit_code == 6 and "already has the intended result" in r.stderr
    r = run("theme", "add", REF, "Wonen", "--result", "Groen", "--result", "groen", user=PL)
    assert r.exit_code == 6
    assert db_state() == before


# --- withdraw ---------------------------------------------------------------------------------------


def test_withdraw_a_completion_reopens_the_gate_and_points_at_what_it_corrects(app, aanpak, run, clock):
    services.complete(app, REF, "coalitie", evidence="c.pdf", acting=PL)
    assert criterion(app, "coalitie")["met"]
    clock.forward(1)
    r = run("withdraw", REF, "coalitie", "--reason", "Verkeerde versie", user=PL)
    assert r.exit_code == 0, r.stderr
    assert not criterion(app, "coalitie")["met"]
    completed = events(app, "criterion_completed")[0]
    withdrawn = events(app, "criterion_withdrawn")[0]
    assert withdrawn["payload"]["corrects"] == completed["id"] and withdrawn["reason"] == "Verkeerde versie"
    assert "withdrawn: coalitie" in run("history", REF).stdout
    # as-of agrees with the live gate, on both days
    asof = show_as_of(app, REF, clock.now.date().isoformat())
    gate = next(c for c in asof["gates"][0]["criteria"] if c["key"] == "coalitie")
    assert not gate["met"]
    assert audit_service.verify(app)["checked"] > 0
    # Given again, it counts again.
    services.complete(app, REF, "coalitie", evidence="c2.pdf", acting=PL)
    assert criterion(app, "coalitie")["met"]


def test_withdraw_an_approval_then_approve_again(app, aanpak, run, clock):
    services.complete(app, REF, "lokaal_contract", evidence="lc.pdf", acting=PL)
    services.approve(app, REF, "lokaal_contract_akkoord", comment="eerst", acting=SG1)
    r = run("withdraw", REF, "lokaal_contract_akkoord", "--reason", "Te vroeg", user=WR)
    assert r.exit_code == 5
    r = run("withdraw", REF, "lokaal_contract_akkoord", "--reason", "Te vroeg", user=SG2)
    assert r.exit_code == 0, r.stderr
    assert not criterion(app, "lokaal_contract_akkoord")["met"]
    clock.forward(1)
    services.approve(app, REF, "lokaal_contract_akkoord", comment="nu wel", acting=SG1)
    c = criterion(app, "lokaal_contract_akkoord")
    assert c["met"] and c["comment"] == "nu wel"


def test_withdraw_a_party_sign_off(app, aanpak, run):
    services.approve(app, REF, "lokaal_contract_ondertekend", party="gemeente", evidence="b.pdf", acting=SG1)
    r = run("withdraw", REF, "lokaal_contract_ondertekend", "--party", "Gemeente", "--reason", "Verkeerd stuk",
            user=SG1)
    assert r.exit_code == 0, r.stderr
    assert "for Gemeente" in r.stdout
    assert events(app, "party_approval_withdrawn")[0]["payload"]["corrects"] == events(app, "party_approved")[0]["id"]
    # The party may sign again.
    services.approve(app, REF, "lokaal_contract_ondertekend", party="gemeente", evidence="b2.pdf", acting=SG1)


def test_withdrawing_what_was_never_given_is_refused(app, aanpak, run, db_state):
    before = db_state()
    cases = [
        (("withdraw", REF, "coalitie", "--reason", "x"), PL, 2, "is not completed in this phase"),
        (("withdraw", REF, "lokaal_contract_akkoord", "--reason", "x"), SG1, 2, "is not approved in this phase"),
        (("withdraw", REF, "lokaal_contract_ondertekend", "--party", "gemeente", "--reason", "x"), SG1, 2,
         "has not signed"),
        (("withdraw", REF, "coalitie"), PL, 2, "needs a --reason"),
        (("withdraw", REF, "bestaat_niet", "--reason", "x"), PL, 4, "has no criterion"),
    ]
    for args, who, code, text in cases:
        r = run(*args, user=who)
        assert (r.exit_code, r.stderr.count("\n")) == (code, 1) and text in r.stderr, (args, r.stderr)
    assert db_state() == before


# --- measurements ------------------------------------------------------------------------------------


def test_correct_and_withdraw_a_measurement(app, aanpak, run, clock):
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    r = run("measure", REF, "bewoners", "410", "--date", "2026-03-02", user=WR)
    assert r.exit_code == 0 and "(measurement #1)" in r.stdout
    clock.forward(1)
    r = run("measure", REF, "--correct", "1", "41", "--reason", "Typfout", user=WR)
    assert r.exit_code == 0, r.stderr
    assert "410 -> 41" in r.stdout
    assert services.progress(app, REF)[0]["latest"] == 41
    corrected = events(app, "measurement_corrected")[0]
    assert corrected["payload"]["corrects"] == events(app, "measurement_recorded")[0]["id"]
    assert (corrected["payload"]["old"], corrected["payload"]["value"]) == (410, 41)
    history = run("history", REF).stdout
    assert "[#1] measurement corrected: bewoners 410 -> 41 (2026-03-02)" in history
    assert "[#1] measurement recorded: bewoners = 410 (2026-03-02)" in history
    r = run("measure", REF, "--withdraw", "1", "--reason", "Dubbel", user=WR)
    assert r.exit_code == 0, r.stderr
    assert services.progress(app, REF)[0]["measurements"] == 0
    assert audit_service.verify(app)["checked"] > 0


def test_bad_corrections_of_measurements_write_nothing(app, aanpak, people, run, db_state):
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    services.measure(app, REF, "bewoners", 41, acting=WR)
    services.create_aanpak(app, "Wijkaanpak Zuid", wijk="Zuid", leader=PL, coordinators=(WR,), acting=PL)
    services.add_indicator(app, "wijkaanpak-zuid", "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    other = services.measure(app, "wijkaanpak-zuid", "bewoners", 50, acting=WR)["id"]
    before = db_state()
    cases = [
        (("measure", REF, "--correct", str(other), "51", "--reason", "x"), 4, "has no measurement #"),
        (("measure", REF, "--correct", "1", "42"), 2, "needs a --reason"),
        (("measure", REF, "--correct", "1", "41", "--reason", "x"), 2, "is 41 already"),
        (("measure", REF, "--withdraw", "99", "--reason", "x"), 4, "has no measurement #99"),
        (("measure", REF, "bewoners", "5", "--withdraw", "1", "--reason", "x"), 2, "either KEY VALUE"),
    ]
    for args, code, text in cases:
        r = run(*args, user=WR)
        assert r.exit_code == code and text in r.stderr, (args, r.stderr)
    assert db_state() == before


def test_indicator_set_shows_as_a_correction_with_old_and_new(app, aanpak, run):
    services.add_indicator(app, REF, "bewoners", label="Actieve bewoners", baseline=40, acting=WR)
    assert run("indicator", "set", REF, "bewoners", "--baseline", "42", user=WR).exit_code == 0
    assert "indicator corrected: bewoners (baseline 40 -> 42)" in run("history", REF).stdout


# --- people and roles ---------------------------------------------------------------------------------


def test_unassign_ends_a_role(app, aanpak, run, db_state):
    before = db_state()
    r = run("unassign", REF, SG2, "--role", "coordinator", user=PL)
    assert r.exit_code == 2 and "is not coordinator" in r.stderr
    r = run("unassign", REF, PL, "--role", "projectleider", user=PL)
    assert r.exit_code == 2 and "only projectleider" in r.stderr
    r = run("unassign", REF, SG2, "--role", "approver", user=WR)
    assert r.exit_code == 5
    assert db_state() == before
    r = run("unassign", REF, SG2, "--role", "approver", user=PL)
    assert r.exit_code == 0, r.stderr
    assert SG2 not in run("show", REF).stdout
    assert "role ended: " in run("history", REF).stdout


def test_people_forget_ends_their_roles_and_show_says_vacant(app, aanpak, run):
    r = run("people", "forget", WR, user=ADMIN)
    assert r.exit_code == 0 and "their 1 role on wijkaanpakken ended" in r.stdout
    shown = run("show", REF).stdout
    assert "coordinator: (vacant)" in shown and "(forgotten person)" not in shown
    assert audit_service.verify(app)["checked"] > 0
    with app.db.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM aanpak_role WHERE role='coordinator'")).scalar() == 0


def test_people_edit_and_rename(app, aanpak, run, db_state):
    r = run("people", "edit", WR, "--name", "Erna Biezenaar-Smit", user=WR)
    assert r.exit_code == 0, r.stderr
    assert "Erna Biezenaar-Smit" in run("show", REF).stdout
    edited = [e for e in services.history(app, REF)]  # person events are not on the aanpak
    assert edited
    with app.db.read() as conn:
        payload = conn.execute(sa.text("SELECT payload FROM audit_event WHERE type='person_edited'")).scalar_one()
    assert json.loads(payload)["fields"] == ["name"] and "Smit" not in payload  # no names in the history
    before = db_state()
    assert run("people", "edit", WR, "--name", "X", user=SG1).exit_code == 5
    assert run("people", "edit", WR, user=ADMIN).exit_code == 2
    assert db_state() == before
    r = run("rename", REF, "Wijkaanpak Noord-Oost", "--reason", "Besluit", user=PL)
    assert r.exit_code == 0, r.stderr
    assert services.show_aanpak(app, REF)["name"] == "Wijkaanpak Noord-Oost"
    assert "renamed: Wijkaanpak Noord -> Wijkaanpak Noord-Oost" in run("history", REF).stdout
