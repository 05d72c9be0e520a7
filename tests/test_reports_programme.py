"""The report shows the programme, in Dutch as a Dutch reader writes it (issue 13)."""

from __future__ import annotations

import re

from conftest import PL, SG1, SG2, WR
from test_reports import Page

from wijkflow import services
from wijkflow.reporting import charts


def report_text(run, ref: str, tmp_path) -> tuple[str, str]:
    out = tmp_path / "r.html"
    r = run("report", ref, "--html", str(out))
    assert r.exit_code == 0, r.stderr
    html = out.read_text(encoding="utf-8")
    return html, " ".join(" ".join(Page(html).text).split())


def test_the_report_shows_the_plan_themes_signoffs_and_readings(run, app, people, tmp_path, clock):
    ref = services.create_aanpak(app, "Braakhuizen Zuid", wijk="Braakhuizen Zuid", gemeente="Geldrop-Mierlo",
                                 leader=PL, coordinators=(WR,), approvers=(SG1,), workflow="wijkontwikkelingsplan",
                                 phase="design", since="2026-01-05", acting=PL)["slug"]
    services.add_analysis(app, ref, strengths=("Actieve buurtvereniging",), bottlenecks=("Eenzaamheid",), acting=WR)
    services.add_activity(app, ref, "Buurtkamer openen", partner="Gemeente", year=2026, status="running", acting=WR)
    services.add_activity(app, ref, "Kruising herinrichten", partner="Gemeente", year=2027, acting=WR)
    services.add_activity(app, ref, "Schoonmaakactie", partner="Bewoners", year=2026, acting=WR)
    services.update_activity(app, ref, 3, status="done", acting=WR)
    services.add_indicator(app, ref, "leefbaarheid", label="Leefbaarometer-score", baseline=5.9, target=6.5,
                           acting=WR)
    services.measure(app, ref, "leefbaarheid", 6.1, acting=WR)
    services.interpret(app, ref, conclusion="Een signaal, nog geen bewijs.", indicators=("leefbaarheid",), acting=WR)
    html, text = report_text(run, ref, tmp_path)
    for seen in ("Wijkontwikkelingsplan", "Sterke punten Actieve buurtvereniging", "Knelpunten Eenzaamheid",
                 "Uitvoeringsagenda per partner en jaar", "Bewoners 2026 3 Schoonmaakactie gereed",
                 "Gemeente 2026 1 Buurtkamer openen lopend 2027 2 Kruising herinrichten gepland",
                 "Duiding van de cijfers", "Leefbaarometer-score Een signaal, nog geen bewijs.",
                 # The history: labels and details, not keys; decimals with a comma.
                 "Meting Leefbaarometer-score: 6,1", "Activiteit #3 Schoonmaakactie gewijzigd: status gepland → gereed",
                 "Cijfers geduid (Leefbaarometer-score)", "Nulmeting 5,9"):
        assert seen in text, seen
    assert "leefbaarheid" not in text  # the key never shows where its label can
    body = text[text.index("Tijdlijn van de fasen"):text.index("Historie")]  # not the CSS, not the chain head
    assert not re.search(r"\d\.\d", body), "a decimal point in the Dutch report"

    g = services.create_aanpak(app, "Lindenholt", wijk="Lindenholt", gemeente="Nijmegen", leader=PL,
                               coordinators=(WR,), approvers=(SG1, SG2), workflow="gebiedsgericht", phase="design",
                               since="2026-01-05", acting=PL)["slug"]
    services.link_theme(app, g, "Gezondheid", results=("Meer inwoners bewegen wekelijks",), acting=WR)
    services.approve(app, g, "gebiedstafel_agenda", party="sociaal", evidence="Gebiedstafel 12 feb", acting=SG1)
    _, text = report_text(run, g, tmp_path)
    for seen in ("Thema's en beoogde resultaten Gezondheid Meer inwoners bewegen wekelijks",
                 "Ondertekening Gebiedsagenda vastgesteld aan de gebiedstafel",
                 "Sociaal domein Robert Olde Heuvel", "Fysiek domein nog niet getekend",
                 "1 van 3 partijen getekend"):
        assert seen in text, seen


def test_optional_criteria_of_a_passed_gate_are_never_red(run, app, aanpak, tmp_path):
    for key in ("coalitie", "analyse_visie", "lokaal_contract", "instrumenten_financiering"):
        services.complete(app, aanpak, key, evidence="doc.pdf", acting=PL)
    services.approve(app, aanpak, "lokaal_contract_akkoord", acting=SG1)
    services.advance(app, aanpak, acting=PL)
    html, text = report_text(run, aanpak, tmp_path)
    row = re.search(r"<tr><td>Lokaal contract ondertekend door alle partijen.*?</tr>", html, re.S)
    assert row is not None
    assert 'class="bad"' not in row.group(0) and "niet nodig (optioneel)" in row.group(0)
    # Dates never break inside a narrow gate table.
    assert re.search(r'<td class="when">\d+ maart 2026</td>', html)


def test_chart_values_keep_clear_of_the_baseline_and_target_lines():
    from datetime import date
    c = charts.indicator_chart(40, 60, [(date(2026, 1, 1), 40), (date(2026, 6, 1), 59.5)])
    for p in c.points:
        text_mid = p["label_y"] - 3
        assert all(abs(text_mid - line) >= 8 for line in (c.baseline_y, c.target_y)), (p, c.baseline_y, c.target_y)
    assert [p["value"] for p in c.points] == ["40", "59,5"]
