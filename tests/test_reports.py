"""`report REF --html` and `report --portfolio --html`: self-contained, escaped, complete pages."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from conftest import ADMIN, PL, SG1, WR

from wijkflow import services, store
from wijkflow.definitions import (
    AnalysisCriterion,
    ApprovalCriterion,
    DeliverableCriterion,
    IndicatorsCriterion,
    MinDaysCriterion,
)
from wijkflow.gates import Facts, IndicatorFact, evaluate_criterion, snapshot_why
from wijkflow.reporting import charts, render

INITIATE = ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering")


class Page(HTMLParser):
    """Collects what a browser would fetch and what a reader would see."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self.svgs = 0
        self._in_script = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        for key in ("src", "href", "xlink:href"):
            if a.get(key):
                self.fetches.append(a[key])
        if tag == "link" or (tag == "script" and a.get("src")):
            self.fetches.append(str(a))
        self.svgs += tag == "svg"
        self._in_script = tag == "script"

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        (self.scripts if self._in_script else self.text).append(data)


@pytest.fixture
def lived(app, aanpak, clock) -> str:
    clock.forward(20)
    for key in INITIATE:
        services.complete(app, aanpak, key, evidence=f"https://hengelo.example/{key}.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", comment="Akkoord stuurgroep", acting=SG1)
    services.advance(app, aanpak, acting=PL, reason="Lokaal contract getekend")
    services.add_indicator(app, aanpak, "bewoners", label="Actieve bewoners", unit="aantal", baseline=40,
                           target=120, acting=WR)
    clock.forward(30)
    services.measure(app, aanpak, "bewoners", 52, acting=WR)
    clock.forward(60)
    services.measure(app, aanpak, "bewoners", 71, acting=WR)
    return aanpak


def test_aanpak_report_has_timeline_gates_indicators_and_history(sh, lived, tmp_path, clock):
    out = tmp_path / "noord.html"
    r = sh("report", lived, "--html", str(out), env={"WIJKFLOW_NOW": clock.iso})
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"Wrote {out} (report on Wijkaanpak Noord, ")
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    assert page.fetches == [] and page.scripts == []  # nothing from elsewhere, no script at all
    assert page.svgs == 2  # the timeline and one indicator chart
    text = " ".join(page.text)
    for seen in ("Tijdlijn van de fasen", "Initiëren → Ontwerpen", "Lokaal contract goedgekeurd door de stuurgroep",
                 "Robert Olde Heuvel", "Akkoord stuurgroep", "https://hengelo.example/coalitie.pdf",
                 "Actieve bewoners", "nulmeting", "streefwaarde", "Meting Actieve bewoners: 71", "Historie",
                 "Volgende poort: Ontwerpen → Uitvoeren"):
        assert seen in text, seen
    assert "@media print" in html and "@page" in html
    assert re.search(r"<polyline points=\"[\d. ,]+\"", html)


def test_report_on_an_aanpak_without_any_events_still_renders(run, app, people, tmp_path, clock):
    with app.db.write() as conn:  # as an import or a restore might leave it: a row, no history
        def_id = store.pin_definition(conn, app.registry.get("wijkaanpak"), clock.now)
        store.insert_aanpak(conn, slug="stille-wijk", name="Stille wijk", wijk="Oost", gemeente="",
                            definition_id=def_id, phase="initiate", phase_since=clock.now, visit=1, version=1,
                            created_at=clock.now, updated_at=clock.now)
    out = tmp_path / "stil.html"
    r = run("report", "stille-wijk", "--html", str(out))
    assert r.exit_code == 0, r.stderr
    text = " ".join(Page(out.read_text(encoding="utf-8")).text)
    assert "Nog geen gebeurtenissen vastgelegd." in text and "Nog geen indicatoren." in text


def test_report_right_after_creation(run, aanpak, tmp_path):
    out = tmp_path / "nieuw.html"
    assert run("report", aanpak, "--html", str(out)).exit_code == 0
    assert "Aanpak gestart in fase Initiëren" in out.read_text(encoding="utf-8")


def test_report_names_an_erased_person_in_dutch(run, app, aanpak, tmp_path):
    services.forget_person(app, SG1, acting=ADMIN)
    out = tmp_path / "vergeten.html"
    assert run("report", aanpak, "--html", str(out)).exit_code == 0
    text = " ".join(Page(out.read_text(encoding="utf-8")).text)
    assert "(vergeten persoon) is lid van de stuurgroep" in text
    assert "Robert" not in text and "forgotten" not in text


def test_script_in_a_name_is_escaped_everywhere(run, app, people, tmp_path):
    evil = '<script>alert("x")</script>'
    services.add_person(app, "evil@hengelo.example", name=f"Eva {evil}", acting=ADMIN)
    a = services.create_aanpak(app, f"Noord {evil}", wijk=f"Wijk {evil}", leader="evil@hengelo.example",
                               acting=PL)
    services.complete(app, a["slug"], "coalitie", evidence=f"zie {evil}", acting="evil@hengelo.example")
    for args in ([a["slug"]], ["--portfolio"]):
        out = tmp_path / "evil.html"
        assert run("report", *args, "--html", str(out)).exit_code == 0
        html = out.read_text(encoding="utf-8")
        assert "<script>alert" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_portfolio_lists_every_aanpak_sorted_by_wijk(run, app, lived, tmp_path, clock):
    for name, wijk in (("Wijkaanpak Zuid", "Zuid"), ("Wijkaanpak Berflo Es", "Berflo Es")):
        services.create_aanpak(app, name, wijk=wijk, gemeente="Hengelo", leader=PL, acting=PL)
    clock.forward(400)
    out = tmp_path / "portfolio.html"
    r = run("report", "--portfolio", "--html", str(out))
    assert r.exit_code == 0 and "portfolio of 3 wijkaanpakken" in r.stdout
    html = out.read_text(encoding="utf-8")
    page = Page(html)
    assert page.fetches == []
    wijken = re.findall(r'<tr>\s*<td data-v="([^"]+)">', html)
    assert wijken == ["berflo es", "noord", "zuid"]
    assert "stagneert" in " ".join(page.text)  # Zuid and Berflo Es: 400 days in Initiëren (max 365)
    assert len(page.scripts) == 1
    assert not re.search(r"fetch\(|XMLHttpRequest|import|https?:", page.scripts[0])
    assert "Herinneringen te laat" in " ".join(page.text)


def test_portfolio_of_nothing(run, app, tmp_path):
    out = tmp_path / "leeg.html"
    assert run("report", "--portfolio", "--html", str(out)).exit_code == 0
    assert "Nog geen wijkaanpakken." in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--html", "{tmp}/x.html"], 2, "Error: Give either REF or --portfolio (not both)."),
    (["wijkaanpak-noord", "--portfolio", "--html", "{tmp}/x.html"], 2,
     "Error: Give either REF or --portfolio (not both)."),
    (["wijkaanpak-noord", "--html", "{tmp}/missing/x.html"], 2,
     "Error: The directory {tmp}/missing does not exist; nothing was written."),
    (["wijkaanpak-west", "--html", "{tmp}/x.html"], 4,
     "Error: No wijkaanpak 'wijkaanpak-west' (use its number or slug; `wijkflow list` shows them)."),
])
def test_bad_report_requests_write_nothing(run, aanpak, tmp_path, args, code, message):
    r = run("report", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert r.exit_code == code
    assert message.replace("{tmp}", str(tmp_path)) in r.stderr
    assert not (tmp_path / "x.html").exists()
    assert not list(tmp_path.glob(".wijkflow-report-*"))


def test_templates_render_with_strict_undefined_and_autoescape():
    from wijkflow.reporting import environment

    env = environment()
    assert env.autoescape("report_aanpak.html.j2") is True
    with pytest.raises(Exception, match="undefined"):
        render("report_portfolio.html.j2", rows=[])


def test_indicator_chart_geometry():
    from datetime import date

    c = charts.indicator_chart(40, 120, [(date(2026, 4, 1), 52), (date(2026, 6, 1), 71)], start=date(2026, 3, 1))
    assert c.baseline_y is not None and c.target_y is not None and c.target_y < c.baseline_y  # higher is up
    assert [p["value"] for p in c.points] == ["52", "71"]
    assert c.points[0]["x"] < c.points[1]["x"]
    empty = charts.indicator_chart(None, None, [])
    assert empty.points == [] and empty.baseline_y is None


T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(("criterion", "facts", "english", "dutch"), [
    (DeliverableCriterion(kind="deliverable", label="D"), Facts(phase="p", phase_since=T0),
     "not completed yet", "nog niet opgeleverd"),
    (ApprovalCriterion(kind="approval", label="A"), Facts(phase="p", phase_since=T0),
     "not approved yet (by someone with the approver role)",
     "nog niet goedgekeurd (door iemand met de rol lid van de stuurgroep)"),
    (MinDaysCriterion(kind="min_days", label="M", days=90), Facts(phase="p", phase_since=T0 - timedelta(days=12)),
     "12 of 90 days in phase; met from 2026-05-19", "12 van 90 dagen in deze fase; voldaan vanaf 2026-05-19"),
    (IndicatorsCriterion(kind="indicators", label="I", min_measurements=1),
     Facts(phase="p", phase_since=T0, indicators=(
         IndicatorFact(key="bewoners", label="B", has_baseline=False, measurements=1),
         IndicatorFact(key="veiligheid", label="V", has_baseline=True, measurements=0))),
     "no baseline for bewoners; fewer than 1 measurements for veiligheid",
     "geen nulmeting voor bewoners; minder dan 1 metingen voor veiligheid"),
    (AnalysisCriterion(kind="analysis", label="A", min_strong_points=2), Facts(phase="p", phase_since=T0),
     "analysis incomplete: 0 of 2 strong points, 0 of 1 knelpunten",
     "analyse onvolledig: 0 van 2 sterke punten, 0 van 1 knelpunten"),
])
def test_gate_reasons_are_english_on_the_cli_and_dutch_in_reports(criterion, facts, english, dutch):
    result = evaluate_criterion("c", criterion, facts, T0)
    assert result.why == english and result.why_in("en") == english
    assert result.why_in("nl") == dutch
    assert snapshot_why(result.snapshot(), "nl") == dutch  # a passed gate, read back from its event


def test_a_gate_snapshot_from_before_reason_codes_keeps_its_english():
    assert snapshot_why({"why": "a reason the report does not know"}, "nl") == "a reason the report does not know"


def test_programme_reasons_are_dutch_in_the_report(run, app, people, tmp_path):
    a = services.create_aanpak(app, "Wijkaanpak Klarendal", wijk="Klarendal", gemeente="Arnhem", leader=PL,
                               workflow="wijkontwikkelingsplan", phase="design", since="2026-01-05", acting=PL)
    out = tmp_path / "wop.html"
    assert run("report", a["slug"], "--html", str(out)).exit_code == 0
    text = " ".join(Page(out.read_text(encoding="utf-8")).text)
    assert "analyse onvolledig: 0 van 1 sterke punten, 0 van 1 knelpunten" in text
    assert "nog geen activiteit voor Gemeente, Bewoners" in text
    assert "analysis incomplete" not in text and "no activity yet" not in text


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium for a real browser")
def test_portfolio_sorts_by_a_column_in_a_real_browser(run, app, lived, tmp_path, clock):
    """Headless Chromium clicks 'Dagen in fase' twice (descending) and we read the rows back."""
    services.create_aanpak(app, "Wijkaanpak Zuid", wijk="Zuid", gemeente="Hengelo", leader=PL, acting=PL)
    clock.forward(30)
    services.create_aanpak(app, "Wijkaanpak Berflo Es", wijk="Berflo Es", gemeente="Hengelo", leader=PL, acting=PL)
    out = tmp_path / "portfolio.html"
    assert run("report", "--portfolio", "--html", str(out)).exit_code == 0
    html = out.read_text(encoding="utf-8")
    clicks = '<script>var h = document.querySelectorAll("#portfolio th")[4]; h.click(); h.click();</script>'
    (tmp_path / "clicked.html").write_text(html.replace("</body>", clicks + "</body>"), encoding="utf-8")
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run", "--dump-dom",
                          (tmp_path / "clicked.html").as_uri()], capture_output=True, text=True, timeout=60).stdout
    wijken = re.findall(r'<tr>\s*<td data-v="([^"]+)">', dom)
    assert wijken == ["noord", "zuid", "berflo es"]  # 120, 30 and 0 days in phase
    assert re.findall(r'<tr>\s*<td data-v="([^"]+)">', html) == ["berflo es", "noord", "zuid"]  # as written


def test_portfolio_counts_overdue_reminders_and_groups_by_theme(app, people, tmp_path, run):
    late = services.create_aanpak(app, "Wijkaanpak Klarendal", wijk="Klarendal", gemeente="Arnhem", leader=PL,
                                  coordinators=(WR,), acting=PL, phase="monitor", since="2025-09-01")["slug"]
    fresh = services.create_aanpak(app, "Wijkaanpak Presikhaaf", wijk="Presikhaaf", gemeente="Arnhem", leader=PL,
                                   acting=PL)["slug"]
    services.link_theme(app, late, "Doorbraak naar werk", results=("50 bewoners aan het werk",), acting=PL)
    services.link_theme(app, fresh, "Doorbraak naar werk", acting=PL)
    services.link_theme(app, fresh, "Inclusief Arnhem", acting=PL)
    with app.db.read() as conn:
        overdue = {ref: store.overdue_reminders(conn, store.find_aanpak(conn, ref).id, app.now())
                   for ref in (late, fresh)}
    assert overdue[late] > 0 and overdue[fresh] == 0
    assert run("report", "--portfolio", "--html", str(tmp_path / "p.html")).exit_code == 0
    text = " ".join(Page((tmp_path / "p.html").read_text(encoding="utf-8")).text)
    assert "Per thema (veranderopgave)" in text
    assert re.search(r"Doorbraak naar werk\s+2\s+Wijkaanpak Klarendal", text)
    assert re.search(r"Inclusief Arnhem\s+1\s+Wijkaanpak Presikhaaf", text)
