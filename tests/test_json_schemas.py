"""Every `--format json` output has a JSON Schema shipped in the package (wijkflow/schemas/), and what the
command prints validates against it.

One database with a bit of everything (people, an aanpak with CBS codes, indicators, a measurement, a
plan, a theme, a phase change, a deadline, reminders) and every command that takes `--format json`,
run as a script would run it. `WIJKFLOW_WRITE_SCHEMAS=1` writes a schema for a command from its output
(after a deliberate change of a shape: then read the diff), as the audit export's goldens are kept.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click
import jsonschema
import pytest
from conftest import ADMIN, PL, SG1, SG2, WR

from wijkflow import services
from wijkflow.cli import cli
from wijkflow.schemas import SCHEMA_DIR, schema_file, schema_for
from wijkflow.services import status
from wijkflow.services.areas import change_areas
from wijkflow.services.signin import create_token, revoke_token

DEFINITION = Path(__file__).resolve().parents[1] / "workflows" / "wijkaanpak.yaml"
SLK = "https://selectielijst.openzaak.nl/api/v1/resultaten/cc5ae4e3-a9e6-4386-bcee-46be4986a829"
RTO = "https://selectielijst.openzaak.nl/api/v1/resultaattypeomschrijvingen/3a0a9c3c-0847-4e7e-b7d9-765b9434094c"
REF = "wijkaanpak-noord"

# command -> its arguments (besides --format json); "{tmp}" is the test's temporary directory.
RUNS: dict[str, list[str]] = {
    "new": ["new", "Wijkaanpak Zuidoost", "--wijk", "Zuidoost", "--leader", PL, "--wijk-code", "WK016402"],
    "list": ["list"], "area": ["area", REF, "--buurt-code", "BU01640103"], "show": ["show", REF],
    "gate": ["gate", REF], "advance": ["advance", REF, "--dry-run"],
    "indicator catalogue": ["indicator", "catalogue"],
    "measure import": ["measure", "import", "{tmp}/figures.csv", "--source", "csv", "--year", "2026"],
    "indicators": ["indicators", REF], "history": ["history", REF], "config": ["config"], "info": ["info"],
    "workflows list": ["workflows", "list"], "workflows show": ["workflows", "show", "wijkaanpak"],
    "workflows export": ["workflows", "export", "wijkaanpak", "--zgw-zaaktype", "{tmp}/zt",
                         "--selectielijstklasse", SLK, "--resultaattypeomschrijving", RTO],
    "people list": ["people", "list"], "audit verify": ["audit", "verify"], "audit head": ["audit", "head"],
    "audit query": ["audit", "query"], "audit phases": ["audit", "phases"],
    "db current": ["db", "current"], "db history": ["db", "history"], "import": ["import", "{tmp}/portfolio.csv"],
    "migrate": ["migrate", REF, "--to-version", "3", "--workflow", "{tmp}/wijkaanpak-v2.yaml", "--dry-run"],
    "plan show": ["plan", "show", REF], "theme list": ["theme", "list", REF], "reminders list": ["reminders", "list"],
    "reminders send": ["reminders", "send"],
    "export": ["export", REF, "--zgw-zaak", "{tmp}/zaak", "--rsin", "002220647"],
    "audit key": ["audit", "key"], "audit checkpoint": ["audit", "checkpoint"],
    "audit export": ["audit", "export", "--bundle", "{tmp}/bundle", "--aanpak", REF],
    "audit purge": ["audit", "purge", "--before", "2026-02-01", "--reason", "Selectielijst gemeenten 2020"],
    "db backup": ["db", "backup", "{tmp}/backup.db"], "reminders retry": ["reminders", "retry", "--failed"],
    "suspend": ["suspend", REF, "--reason", "Wachten op de begroting"], "resume": ["resume", "wijkaanpak-oost"],
    "stop": ["stop", REF, "--reason", "Besluit gemeenteraad"],
    "reopen": ["reopen", "wijkaanpak-west", "--reason", "Herzien"],
    "withdraw": ["withdraw", "wijkaanpak-zuid", "coalitie", "--reason", "Verkeerde versie van het convenant"],
    "token list": ["token", "list"],  # the scenario gave the admin a token (and revoked one)
}


def json_commands() -> set[str]:
    """Every command whose --format offers json."""
    found = set()

    def walk(cmd: click.Command, prefix: tuple[str, ...]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, (*prefix, name))
            return
        for p in cmd.params:
            if p.name == "fmt" and isinstance(p.type, click.Choice) and "json" in p.type.choices:
                found.add(" ".join(prefix))

    walk(cli, ())
    return found


def test_every_json_output_has_a_shipped_schema_and_a_run_here():
    assert json_commands() == set(RUNS), "add the command to RUNS (and its schema to wijkflow/schemas/)"
    missing = [c for c in RUNS if not schema_file(c).exists()]
    assert not missing or os.environ.get("WIJKFLOW_WRITE_SCHEMAS"), f"no schema for {missing}"
    for path in SCHEMA_DIR.glob("*.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture
def scenario(app, people, clock, tmp_path):
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                           coordinators=(WR,), approvers=(SG1, SG2), acting=PL)
    change_areas(app, REF, wijk_code="WK016401", buurt_codes=("BU01640102",), acting=PL)
    services.add_indicator(app, REF, "actieve_bewoners", from_catalogue=True, baseline="12,5",
                           baseline_date="2026-01-15", target="20", target_date="2027-12-31", acting=PL)
    services.measure(app, REF, "actieve_bewoners", "14.5", on="2026-02-20", source="Wijkpeiling", acting=WR)
    services.add_partner(app, REF, "Welbions", acting=PL)
    services.add_activity(app, REF, "Buurtkamer openen", partner="Welbions", year=2026, acting=PL)
    services.link_theme(app, REF, "Veilig en schoon", results=("Minder overlast",), acting=PL)
    services.set_deadline(app, REF, "coalitie", "2026-03-20", acting=PL)
    services.complete(app, REF, "coalitie", evidence="Convenant", acting=PL)
    clock.forward(20)
    services.advance(app, REF, acting=ADMIN, to="design", reason="Besluit stuurgroep", override=True)
    for name, wijk in (("Wijkaanpak Oost", "Oost"), ("Wijkaanpak West", "West"), ("Wijkaanpak Zuid", "Zuid")):
        services.create_aanpak(app, name, wijk=wijk, gemeente="Hengelo", leader=PL, acting=PL)
    services.complete(app, "wijkaanpak-zuid", "coalitie", evidence="Convenant", acting=PL)
    status.suspend(app, "wijkaanpak-oost", reason="Pauze", acting=PL)
    status.stop(app, "wijkaanpak-west", reason="Besluit gemeenteraad", acting=PL)
    create_token(app, ADMIN, "laptop")
    revoke_token(app, ADMIN, create_token(app, ADMIN, "oude laptop")["id"])
    (tmp_path / "figures.csv").write_text("code,peildatum,actieve_bewoners\nWK016401,2026-03-01,15\n",
                                         encoding="utf-8")
    (tmp_path / "portfolio.csv").write_text(
        "name,wijk,gemeente,buurt_codes,leader,indicators\n"
        f"Berflo Es,Berflo Es,Hengelo,BU01640301,{PL},actieve_bewoners=10->15\n", encoding="utf-8")
    (tmp_path / "wijkaanpak-v2.yaml").write_text(
        DEFINITION.read_text(encoding="utf-8").replace("\nversion: 2\n", "\nversion: 3\n", 1), encoding="utf-8")
    return app


@pytest.mark.parametrize("command", sorted(RUNS))
def test_the_json_output_validates_against_its_schema(command, scenario, run, tmp_path, db_engine):
    if command == "db backup" and db_engine != "sqlite":
        pytest.skip("`db backup` copies a SQLite file; on PostgreSQL it refuses by design (use pg_dump)")
    args = [a.replace("{tmp}", str(tmp_path)) for a in RUNS[command]]
    r = run(*args, "--format", "json", user=PL if command == "advance" else ADMIN)
    assert r.exit_code == (3 if command == "advance" else 0), r.stderr  # a dry run the gate refuses: exit 3
    data = json.loads(r.stdout)
    if os.environ.get("WIJKFLOW_WRITE_SCHEMAS"):
        schema_file(command).write_text(json.dumps(inferred(command, data), indent=2, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(schema_for(command)).iter_errors(data)]
    assert not errors, f"`{command} --format json` does not match wijkflow/schemas/{schema_file(command).name}"


def test_audit_query_jsonl_lines_are_the_items_of_its_json(scenario, run):
    lines = run("audit", "query", "--format", "jsonl").stdout.splitlines()
    item = schema_for("audit query")["items"]
    for line in lines:
        jsonschema.Draft202012Validator(item).validate(json.loads(line))


# --- writing a schema from an output (WIJKFLOW_WRITE_SCHEMAS=1) -----------------------------------

FREE = {"payload", "params", "body"}  # shapes of their own (per event type, per reason code)
MAPS = {"criteria", "parties", "deadlines", "columns"}  # objects keyed by data (criterion keys, columns)
PERSON = {"id", "email", "name"}  # a person everywhere: the email is null once forgotten (AVG)
# Where a change came from (provenance.py): strings only, `via` always; null before revision 0008 or once purged.
ORIGIN = {"type": ["object", "null"], "required": ["via"],
          "properties": {"via": {"enum": ["cli", "web", "api"]}}, "additionalProperties": {"type": "string"}}
_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def inferred(command: str, data: object) -> dict:
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema",
              "$id": f"https://wijkflow.invalid/schemas/{schema_file(command).name}",
              "title": f"wijkflow {command} --format json",
              **(_map([data]) if command in ("config", "info") else _infer([data]))}
    return schema


def _map(values: list) -> dict:
    """An object keyed by data: any key, every value of one shape."""
    return {"type": "object", "additionalProperties": _infer([x for v in values for x in v.values()])}


def _infer(values: list, key: str | None = None) -> dict:
    present = [v for v in values if v is not None]
    if key in FREE:
        return {}
    if key == "origin" and all(v is None or isinstance(v, dict) for v in values):  # not the log's origin line
        return ORIGIN
    if not present:
        return {"$comment": "null in every sample: any value"}
    kinds = {_kind(v) for v in present}
    if kinds == {"integer", "number"}:
        kinds = {"number"}
    out: dict = {}
    if len(kinds) > 1:
        return {"type": sorted(kinds) + (["null"] if len(present) < len(values) else [])}
    kind = kinds.pop()
    out["type"] = kind if len(present) == len(values) else [kind, "null"]
    if kind == "object" and key in MAPS:
        return {**_map(present), "type": out["type"]}
    if kind == "object":
        keys = sorted({k for v in present for k in v})
        out["properties"] = {k: _infer([v[k] for v in present if k in v], k) for k in keys}
        out["required"] = [k for k in keys if all(k in v for v in present)]
        out["additionalProperties"] = False
        if PERSON <= set(keys):
            out["properties"]["email"] = {"type": ["string", "null"]}
    elif kind == "array":
        items = [x for v in present for x in v]
        out["items"] = _infer(items) if items else {}
    elif kind == "string":
        if all(_MOMENT.match(v) for v in present):
            out["format"] = "date-time"
        elif all(_DAY.match(v) for v in present):
            out["format"] = "date"
    return out


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"
