"""Every page endpoint × every role, as the roles table (wijkflow/permissions.py) says, now that the
server knows who is asking: reading pages for everyone signed in, the audit pages for auditors and
administrators, each form only for the role that may (auditors change nothing; only approvers approve;
only the projectleider completes and advances). Nobody signed in: 303 to /aanmelden. A refused form
writes nothing; a form without (or with a wrong) CSRF token is refused with 403 and writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from conftest import PL
from web_world import EMAIL, World, world_for
from webkit import csrf_of

from wijkflow import permissions, services

# The web layer over the services, the same on both engines: these run on SQLite only (the services,
# the sign-in SQL and the pages' forms are run on PostgreSQL too, in their own tests).
pytestmark = pytest.mark.sqlite_only

ROLES = ("admin", "auditor", "projectleider", "coordinator", "approver", "other", "anonymous")


@pytest.fixture(scope="module")
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with world_for(request, tmp_path_factory) as w:
        yield w


@pytest.fixture(scope="module")
def slug(world: World) -> str:
    s = world.fresh("Wijkaanpak Rollen")
    world.ready_to_approve(s)
    services.add_indicator(world.app, s, "veiligheid", label="Veiligheidsbeleving", baseline=6, target=7, acting=PL)
    return s


def client_for(world: World, role: str):
    return world.client(None if role == "anonymous" else EMAIL[role])


READING = ["/", "/portefeuille", "/aanpak/{slug}", "/aanpak/{slug}/opleveren/coalitie",
           "/aanpak/{slug}/goedkeuren/lokaal_contract_akkoord", "/aanpak/{slug}/tekenen/lokaal_contract_ondertekend",
           "/aanpak/{slug}/meten", "/aanpak/{slug}/volgende-fase"]
AUDIT = ["/audit", "/audit?aanpak={slug}", "/audit/export.csv", "/audit/bundel.zip?aanpak={slug}", "/audit/controle"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", READING)
def test_reading_pages_for_everyone_signed_in(world: World, slug: str, path: str, role: str) -> None:
    r = client_for(world, role).get(path.format(slug=slug))
    if role == "anonymous":
        assert r.status_code == 303
        assert r.headers["location"].startswith("/aanmelden?next=")
    else:
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", AUDIT)
def test_audit_pages_for_auditors_and_admins_only(world: World, slug: str, path: str, role: str) -> None:
    r = client_for(world, role).get(path.format(slug=slug))
    if role == "anonymous":
        assert r.status_code == 303 and r.headers["location"].startswith("/aanmelden?next=")
    elif role in ("auditor", "admin"):
        assert r.status_code == 200
    else:
        assert r.status_code == 403
        assert r.headers["content-type"].startswith("text/html")


# form: (path, the CLI command whose row in the roles table it follows, set-up, data, did it land?)
def _setup_approve(world: World, s: str) -> None:
    world.ready_to_approve(s)


def _setup_measure(world: World, s: str) -> None:
    services.add_indicator(world.app, s, "veiligheid", label="Veiligheidsbeleving", baseline=6, target=7, acting=PL)


def _setup_advance(world: World, s: str) -> None:
    world.ready_to_advance(s)


FORMS: dict[str, tuple[str, str, Callable[[World, str], None] | None, dict[str, str], str]] = {
    "complete": ("/aanpak/{s}/opleveren/coalitie", "complete", None, {"evidence": "Convenant"},
                 "criterion_completed"),
    "approve": ("/aanpak/{s}/goedkeuren/lokaal_contract_akkoord", "approve", _setup_approve, {"comment": "Akkoord"},
                "criterion_approved"),
    "sign": ("/aanpak/{s}/tekenen/lokaal_contract_ondertekend", "approve", None,
             {"party": "gemeente", "evidence": "Collegebesluit"}, "party_approved"),
    "measure": ("/aanpak/{s}/meten", "measure", _setup_measure, {"indicator": "veiligheid", "value": "6.5"},
                "measurement_recorded"),
    "advance": ("/aanpak/{s}/volgende-fase", "advance", _setup_advance, {"to": "design"}, "phase_changed"),
}


def _fresh(world: World, form: str) -> str:
    s = world.fresh(f"Wijkaanpak {form}")
    setup = FORMS[form][2]
    if setup is not None:
        setup(world, s)
    return s


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("form", FORMS)
def test_each_form_for_each_role_follows_the_roles_table(world: World, form: str, role: str) -> None:
    path, command, _, data, event = FORMS[form]
    s = _fresh(world, form)
    c = client_for(world, role)
    token = csrf_of(c)
    before = world.state()
    r = c.post(path.format(s=s), data={**data, "csrf": token})
    allowed = role in permissions.WRITE[command]
    if role == "anonymous":
        assert r.status_code == 303 and r.headers["location"].startswith("/aanmelden")
        assert world.state() == before
    elif allowed:
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith(f"/aanpak/{s}?klaar=")
        assert world.history(s)[-1]["type"] == event
        assert world.history(s)[-1]["actor"]["email"] == EMAIL[role]
    else:
        assert r.status_code == 403, r.text
        assert "Er is niets vastgelegd." in r.text
        assert world.state() == before


@pytest.mark.parametrize("token", ["missing", "wrong", "another session's"])
@pytest.mark.parametrize("form", FORMS)
def test_a_form_without_its_csrf_token_is_refused_and_writes_nothing(world: World, form: str, token: str) -> None:
    path, command, _, data, _ = FORMS[form]
    s = _fresh(world, form)
    role = sorted(permissions.WRITE[command] - {"admin"})[0]  # someone who may
    c = client_for(world, role)
    other = client_for(world, role)
    sent = {"missing": None, "wrong": "x" * 43, "another session's": csrf_of(other)}[token]
    before = world.state()
    r = c.post(path.format(s=s), data={**data, **({"csrf": sent} if sent is not None else {})})
    assert r.status_code == 403
    assert world.state() == before


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/ik"), ("POST", "/api/cli")])
def test_the_api_without_a_token_answers_401_not_a_redirect(world: World, method: str, path: str) -> None:
    r = world.client().request(method, path, json={"argv": ["list"]})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/json")


def test_a_page_ignores_a_bearer_token_and_asks_to_sign_in(world: World) -> None:
    from webkit import bearer

    r = world.client().get("/", headers=bearer(world.app, PL))
    assert r.status_code == 303 and r.headers["location"].startswith("/aanmelden")
