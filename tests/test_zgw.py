"""Zaakgericht werken: `workflows export --zgw-zaaktype` and `export --zgw-zaak` write documents that validate
against the pinned ZGW Catalogi and Zaken API components (tests/data/zgw/), so Open Zaak would accept them."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services
from wijkflow.services.areas import change_areas

ZGW = Path(__file__).resolve().parent / "data" / "zgw"
SLK = "https://selectielijst.openzaak.nl/api/v1/resultaten/cc5ae4e3-a9e6-4386-bcee-46be4986a829"
RTO = "https://selectielijst.openzaak.nl/api/v1/resultaattypeomschrijvingen/3a0a9c3c-0847-4e7e-b7d9-765b9434094c"
RSIN = "002220647"  # a valid RSIN (elfproef), as in the ZGW API examples


def _json_schema(node):
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes "or null" (everything else is the same)."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def validator(file: str, component: str):
    spec = yaml.safe_load((ZGW / file).read_text(encoding="utf-8"))
    root = _json_schema(spec)
    return jsonschema.Draft7Validator({**root, "$ref": f"#/components/schemas/{component}"},
                                      format_checker=jsonschema.FormatChecker())


CATALOGI = {"zaaktype": "ZaakType", "statustypen": "StatusType", "roltypen": "RolType",
            "resultaattypen": "ResultaatType"}
ZAKEN = {"zaak": "Zaak", "statussen": "Status", "rollen": "Rol", "zaakobjecten": "ZaakObject",
         "resultaat": "Resultaat"}


def documents(directory: Path) -> dict[str, dict]:
    return {str(p.relative_to(directory)): json.loads(p.read_text(encoding="utf-8"))
            for p in sorted(directory.rglob("*.json"))}


def assert_valid(docs: dict[str, dict], spec: str, kinds: dict[str, str]) -> None:
    for name, doc in docs.items():
        kind = name.split("/")[0].removesuffix(".json")
        errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator(spec, kinds[kind]).iter_errors(doc)]
        assert not errors, f"{name} is not a valid {kinds[kind]}: {errors}"


def test_the_pinned_schema_refuses_what_the_api_refuses():
    v = validator("catalogi-1.3.1-components.yaml", "StatusType")
    assert not v.is_valid({"omschrijving": "x", "zaaktype": "http://x/1"})  # volgnummer is required
    assert not v.is_valid({"omschrijving": "x" * 81, "volgnummer": 1, "zaaktype": "http://x/1"})
    assert v.is_valid({"omschrijving": "x", "volgnummer": 1, "zaaktype": "http://x/1", "doorlooptijd": None})


def test_a_definition_exports_as_a_valid_zaaktype(sh, tmp_path):
    out = tmp_path / "zaaktype"
    r = sh("workflows", "export", "wijkaanpak", "--zgw-zaaktype", str(out), "--selectielijstklasse", SLK,
           "--resultaattypeomschrijving", RTO)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"Wrote wijkaanpak v2 as a zaaktype: 12 files in {out}.\n"
    docs = documents(out)
    assert_valid(docs, "catalogi-1.3.1-components.yaml", CATALOGI)

    statustypen = [docs[n] for n in sorted(docs) if n.startswith("statustypen/")]
    assert [(s["volgnummer"], s["omschrijving"], s["isEindstatus"]) for s in statustypen] == [
        (1, "Initiëren", False), (2, "Ontwerpen", False), (3, "Uitvoeren / sturen op verandering", False),
        (4, "Monitoren / toetsen en bijsturen", False), (5, "Evalueren en nazorg", False), (6, "Afgesloten", True)]
    design = docs["statustypen/02-design.json"]["checklistitemStatustype"]
    assert [(c["itemnaam"], c["verplicht"]) for c in design][:2] == [("coalitie", True), ("analyse_visie", True)]
    assert docs["zaaktype.json"]["statustypen"] == [s["url"] for s in statustypen]
    assert {d["omschrijvingGeneriek"] for n, d in docs.items() if n.startswith("roltypen/")} == {
        "behandelaar", "zaakcoordinator", "beslisser"}
    results = {n: (d["omschrijving"], d["archiefnominatie"], d["archiefactietermijn"], d["selectielijstklasse"])
               for n, d in docs.items() if n.startswith("resultaattypen/")}
    assert results == {"resultaattypen/afgesloten.json": ("Afgesloten", "blijvend_bewaren", "P10Y", SLK),
                       "resultaattypen/gestopt.json": ("Gestopt", "vernietigen", "P10Y", SLK)}
    again = tmp_path / "again"
    assert sh("workflows", "export", "wijkaanpak", "--zgw-zaaktype", str(again), "--selectielijstklasse", SLK,
              "--resultaattypeomschrijving", RTO).returncode == 0
    assert documents(again) == docs  # the same URLs every time


def test_a_definition_without_its_selectielijst_urls_is_refused_and_nothing_written(run, tmp_path):
    out = tmp_path / "zaaktype"
    r = run("workflows", "export", "wijkaanpak", "--zgw-zaaktype", str(out))
    assert (r.exit_code, r.stderr) == (2, "Error: Workflow wijkaanpak v2 states no archief selectielijstklasse "
                                          "(a URL in the Selectielijst API); add it to the definition or give "
                                          "--selectielijstklasse URL.\n")
    r = run("workflows", "export", "wijkprogramma", "--zgw-zaaktype", str(out))
    assert r.exit_code == 2 and "states no archief (archiefnominatie, bewaartermijn)" in r.stderr
    assert not out.exists()


def test_an_aanpak_exports_as_a_valid_zaak_with_bijsturen_as_an_earlier_status_again(run, app, people, clock,
                                                                                     tmp_path):
    services.create_aanpak(app, "Wijkaanpak Noord", wijk="Noord", gemeente="Hengelo", leader=PL,
                           coordinators=(WR,), approvers=(SG1,), acting=PL)
    change_areas(app, "wijkaanpak-noord", wijk_code="WK016401", buurt_codes=("BU01640102",), acting=PL)
    for to, why in (("design", "Lokaal contract getekend"), ("execute", None), ("monitor", None),
                    ("execute", "Minder bewoners bereikt dan gedacht"), ("monitor", None), ("evaluate", None),
                    ("closed", "Doelen gehaald")):
        clock.forward(30)
        services.advance(app, "wijkaanpak-noord", acting=ADMIN, to=to, reason=why or f"naar {to}", override=True)
    shown = run("show", "wijkaanpak-noord")
    closed_on = clock.now.astimezone(clock.now.tzinfo).date()
    assert shown.stdout.rstrip().endswith(
        f"Archief: blijvend bewaren: the dossier must be transferred to the archiefbewaarplaats from "
        f"{closed_on.replace(year=closed_on.year + 10)} (10 years after closing)")

    report = tmp_path / "rapport.html"
    assert run("report", "wijkaanpak-noord", "--html", str(report)).exit_code == 0
    assert "<b>Archief</b>blijvend bewaren: overbrengen naar de archiefbewaarplaats vanaf " in report.read_text()

    out = tmp_path / "zaak"
    r = run("export", "wijkaanpak-noord", "--zgw-zaak", str(out), "--rsin", RSIN)
    assert r.exit_code == 0, r.stderr
    docs = documents(out)
    assert_valid(docs, "zaken-1.5-components.yaml", ZAKEN)
    statussen = [docs[n] for n in sorted(docs) if n.startswith("statussen/")]
    assert len(statussen) == 8  # created in initiate, then seven phase changes
    assert statussen[4]["statustoelichting"] == ("Bijsturen: terug naar Uitvoeren / sturen op verandering. "
                                                 "Minder bewoners bereikt dan gedacht")
    assert statussen[4]["statustype"] == statussen[2]["statustype"]  # the earlier status, set again
    assert statussen[0]["datumStatusGezet"].endswith("+01:00")
    zaak = docs["zaak.json"]
    assert (zaak["bronorganisatie"], zaak["archiefnominatie"]) == (RSIN, "blijvend_bewaren")
    assert zaak["archiefactiedatum"] == closed_on.replace(year=closed_on.year + 10).isoformat()
    objects = [d["objectIdentificatie"] for n, d in docs.items() if n.startswith("zaakobjecten/")]
    assert objects == [{"gemeenteNaam": "Hengelo", "gemeenteCode": "0164"},
                       {"wijkCode": "01", "wijkNaam": "Noord", "gemGemeenteCode": "0164"},
                       {"buurtCode": "02", "buurtNaam": "BU01640102", "gemGemeenteCode": "0164",
                        "wykWijkCode": "01"}]
    assert sorted(d["roltoelichting"] for n, d in docs.items() if n.startswith("rollen/")) == [
        "lid van de stuurgroep", "projectleider", "wijkregisseur / coördinator"]
    assert "resultaat.json" in docs

    # the zaak points at the zaaktype `workflows export` writes
    zt = tmp_path / "zaaktype"
    assert run("workflows", "export", "wijkaanpak", "--zgw-zaaktype", str(zt), "--selectielijstklasse", SLK,
               "--resultaattypeomschrijving", RTO).exit_code == 0
    assert zaak["zaaktype"] == json.loads((zt / "zaaktype.json").read_text())["url"]
    types = {json.loads(p.read_text())["url"] for p in (zt / "statustypen").glob("*.json")}
    assert {s["statustype"] for s in statussen} <= types


@pytest.mark.parametrize("rsin", ["12345678", "123456789", "abc"])
def test_a_wrong_rsin_is_refused(run, aanpak, tmp_path, rsin):
    r = run("export", aanpak, "--zgw-zaak", str(tmp_path / "z"), "--rsin", rsin)
    assert r.exit_code == 2 and r.stderr.startswith(f"Error: --rsin '{rsin}' is not an RSIN")
    assert not (tmp_path / "z").exists()
