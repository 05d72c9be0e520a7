"""`wijkflow demo`: one real lifecycle on a throw-away database, narrated.

Nothing printed here is canned: every line about the aanpak comes from the services'
answers. The demo owns its clock and moves it forward through the months it narrates.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import services
from .app import App
from .errors import GateNotMet, InvalidInput
from .outputs import check_output, shown
from .services.reminders import list_reminders, send_reminders

PEOPLE = [
    ("fleur.mensink@hengelo.example", "Fleur Mensink", "projectleider"),
    ("erna.biezenaar@hengelo.example", "Erna Biezenaar", "coordinator"),
    ("robert.oldeheuvel@welbions.example", "Robert Olde Heuvel", "approver"),
    ("jennifer.havinga@hengelo.example", "Jennifer Havinga", "approver"),
]
PL, WR, SG1, SG2 = (p[0] for p in PEOPLE)


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def forward(self, days: int) -> None:
        self.now += timedelta(days=days)


@dataclass(frozen=True)
class Views:
    """How the demo shows a table, a gate and a history: the caller's renderers (the CLI passes
    its own, so the demo prints what the commands print without importing the CLI)."""

    table: Callable[[list[dict[str, Any]], Sequence[tuple[str, str]]], str]
    gate_lines: Callable[[dict[str, Any]], list[str]]
    history: Callable[[list[dict[str, Any]]], str]


# Written next to a kept demo.db: a later `demo --keep DIR` may replace what an earlier demo made.
DEMO_MARK = ".wijkflow-demo"
DEMO_FILES = ("demo.db", "demo.db-wal", "demo.db-shm", "demo.db-journal", DEMO_MARK)


def run_demo(keep: str | None, *, echo: Callable[[str], None], views: Views, force: bool = False,
             database: Path | None = None) -> None:
    """The demo, in a temporary directory or in `keep`; `database` is the configured database,
    which a kept demo never touches (nor a link, a device or a demo.db an earlier demo did not make
    unless `force`: outputs.py)."""
    if keep:
        workdir = keep_dir(keep, database=database, force=force)
        try:
            workdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"The directory {shown(workdir)} cannot be made: {exc.strerror or exc}.") from None
        for name in DEMO_FILES[:-1]:
            (workdir / name).unlink(missing_ok=True)  # checked above: regular files an earlier demo made
        (workdir / DEMO_MARK).write_text("wijkflow demo --keep keeps its database here; a later run replaces it.\n",
                                         encoding="utf-8")
        _run(workdir, echo, views)
    else:
        with tempfile.TemporaryDirectory(prefix="wijkflow-demo-") as tmp:
            _run(Path(tmp), echo, views)


def keep_dir(keep: str, *, database: Path | None, force: bool) -> Path:
    """The directory for `demo --keep`, checked: a directory (or a new path), not a link, and
    nothing in it that the demo would replace unless an earlier demo made it (or `force`)."""
    workdir = Path(keep).expanduser()
    try:
        st: os.stat_result | None = workdir.lstat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InvalidInput(f"{shown(workdir)} cannot be used: {exc.strerror or exc}.") from None
    if st is None:
        return workdir
    if stat.S_ISLNK(st.st_mode):
        raise InvalidInput(f"{shown(workdir)} is a symbolic link; wijkflow does not write through links: "
                           "give the real path.")
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidInput(f"{shown(workdir)} exists and is not a directory; give a new or existing directory "
                           "to --keep.")
    for name in DEMO_FILES:
        check_output(workdir / name, database=database, ours=_demo_made, force=force, kind="demo database")
    outbox = workdir / "outbox"
    if outbox.is_symlink() or (outbox.exists() and not outbox.is_dir()):
        raise InvalidInput(f"{shown(outbox)} is not a directory (or is a link); the demo puts its mail there.")
    return workdir


def _demo_made(path: Path) -> bool:
    mark = path.parent / DEMO_MARK
    return mark.is_file() and not mark.is_symlink()


def _run(workdir: Path, echo: Callable[[str], None], views: Views) -> None:
    tz = ZoneInfo("Europe/Amsterdam")
    clock = _Clock(datetime(2025, 1, 13, 9, 0, tzinfo=tz).astimezone(UTC))
    db_file = workdir / "demo.db"
    app = App.open(f"sqlite:///{db_file}", clock=clock, outbox_dir=str(workdir / "outbox"))

    def day() -> str:
        return clock.now.astimezone(tz).strftime("%d-%m-%Y")

    def step(text: str) -> None:
        echo(f"\n== {day()} · {text}")

    def complete(key: str, evidence: str) -> None:
        r = services.complete(app, ref, key, evidence=evidence, acting=PL)
        echo(f"   Fleur completes '{r['label']}' (evidence: {evidence})")

    def approve(key: str, who: str, comment: str) -> None:
        r = services.approve(app, ref, key, comment=comment, acting=who)
        echo(f"   {who.split('@')[0]} approves '{r['label']}'")

    def advance(to: str | None = None, reason: str | None = None) -> None:
        r = services.advance(app, ref, acting=PL, to=to, reason=reason)
        echo(f"   -> {r['name']} moves from {r['from_label']} to {r['to_label']}")

    echo(f"wijkflow demo: a real run of the engine on a throw-away database ({db_file}).")
    app.db.init()
    step("People")
    for email, name, role in PEOPLE:
        services.add_person(app, email, name=name)
        echo(f"   {name} <{email}> will be {role}")

    step("A new wijkaanpak")
    a = services.create_aanpak(app, "Wijkaanpak Noord — De Noork", wijk="Noord", gemeente="Hengelo",
                               leader=PL, coordinators=(WR,), approvers=(SG1, SG2), acting=PL)
    ref = a["slug"]
    echo(f"   Created #{a['id']} {a['name']} ({ref}) on {a['workflow']}, phase {a['phase_label']}")
    services.set_deadline(app, ref, "lokaal_contract", "2025-03-20", acting=PL)
    echo("   Fleur sets a deadline: lokaal contract by 20-03-2025; wijkflow schedules the reminders:")
    _reminders(app, echo, workdir, send=False)

    step("Fleur tries to move on to Ontwerpen straight away")
    try:
        services.advance(app, ref, acting=PL)
    except GateNotMet as refused:
        echo(f"   Refused (exit code 3): {len(refused.unmet)} criteria are not met:")
        for c in refused.unmet:
            echo(f"     [ ] {c.label} [{c.key}]: {c.why}")

    clock.forward(41)
    step("Initiëren: coalitie, visie, lokaal contract, financiering")
    complete("coalitie", "Intentieverklaring gemeente, Welbions en Zorg zonder zorg")
    complete("analyse_visie", "Wijkanalyse Noord 2025 + visie 'De Noork leeft'")
    complete("instrumenten_financiering", "Buurtbudget en cofinanciering in begroting 2025")
    clock.forward(20)
    _reminders(app, echo, workdir)
    complete("lokaal_contract", "https://hengelo.example/noord/lokaal-contract.pdf")
    step("Fleur also sits in the stuurgroep, but may not approve her own contract (four-eyes)")
    services.assign_role(app, ref, PL, role="approver", acting=PL)
    try:
        services.approve(app, ref, "lokaal_contract_akkoord", acting=PL)
    except Exception as refused:  # noqa: BLE001 - shown as the engine words it
        echo(f"   Refused: {refused}")
    approve("lokaal_contract_akkoord", SG1, "Akkoord namens Welbions en stuurgroep")
    advance(reason="Lokaal contract getekend")

    clock.forward(60)
    step("Ontwerpen: uitvoeringsprogramma, structuren, teams, succesindicatoren")
    for key, ev in [("uitvoeringsprogramma", "Uitvoeringsprogramma Noord 2025-2028"),
                    ("organisatiestructuur", "Stuurgroep + kernteam ingericht"),
                    ("participatiestructuur", "Bewonersplatform De Noork"),
                    ("teams", "Wijkteam Noord, wijkregisseur Erna Biezenaar"),
                    ("monitoringplan", "Monitoringsplan met halfjaarlijkse meting")]:
        complete(key, ev)
    for key, label, unit, base, target in [("actieve_bewoners", "Inwoners actief in de wijk", "aantal", 40, 120),
                                           ("veiligheid", "Veiligheidsbeleving", "rapportcijfer", 5.9, 7.0)]:
        services.add_indicator(app, ref, key, label=label, unit=unit, baseline=base, target=target, acting=WR)
        echo(f"   Erna adds indicator '{label}' (nulmeting {base} {unit}, streefwaarde {target})")
    approve("programma_akkoord", SG2, "Vastgesteld in stuurgroep")
    advance(reason="Programma vastgesteld")

    clock.forward(30)
    step("Uitvoeren: maatregelen starten; the first toets needs three months of uitvoering")
    complete("maatregelen_gestart", "Achter-de-voordeur-aanpak en speelplek Noorderhagen gestart")
    gate = services.gate_status(app, ref)
    for line in views.gate_lines(gate):
        echo(" " + line)
    clock.forward(62)
    step("Three months later")
    _reminders(app, echo, workdir)
    advance(reason="Eerste toets")

    step("Monitoren: the figures call for bijsturen (leren en bijsturen)")
    services.measure(app, ref, "actieve_bewoners", 52, source="Bewonersplatform", acting=WR)
    services.measure(app, ref, "veiligheid", 5.8, source="Veiligheidsmonitor", acting=WR)
    echo("   Erna records measurements: actieve_bewoners 52, veiligheid 5.8")
    complete("monitoringsrapportage", "Rapportage Q2: veiligheid blijft achter")
    complete("bijsturingsvoorstel", "Extra inzet jongerenwerk en verlichting")
    approve("bijsturing_akkoord", SG1, "Akkoord met extra inzet")
    advance(to="execute", reason="Bijsturen: veiligheid blijft achter")

    clock.forward(120)
    step("Uitvoeren again after bijsturen; four months later back to monitoren")
    complete("maatregelen_gestart", "Jongerenwerk en verlichting uitgevoerd")
    advance(reason="Tweede toets")
    services.measure(app, ref, "actieve_bewoners", 96, source="Bewonersplatform", acting=WR)
    services.measure(app, ref, "veiligheid", 6.8, source="Veiligheidsmonitor", acting=WR)
    echo("   Erna records measurements: actieve_bewoners 96, veiligheid 6.8")
    complete("monitoringsrapportage", "Rapportage Q4: doelen binnen bereik")
    approve("doelen_bereikt", SG2, "Klaar voor evaluatie")
    advance(reason="Doelen binnen bereik")

    clock.forward(45)
    step("Evalueren en nazorg, then afsluiten")
    complete("evaluatierapport", "Evaluatie wijkaanpak Noord (procesevaluatie en effecten)")
    complete("nazorgafspraken", "Wijkteam houdt maandelijks spreekuur")
    approve("afsluiting_akkoord", SG1, "Evaluatie vastgesteld")
    advance(reason="Aanpak afgerond")

    step("Indicators")
    rows = services.progress(app, ref)
    echo(views.table(rows, [("key", "Key"), ("baseline", "Nulmeting"), ("latest", "Laatste"),
                         ("target", "Streefwaarde"), ("progress_pct", "% to target")]))

    step(f"History of {ref} (`wijkflow history {ref}`)")
    events = services.history(app, ref)
    echo(views.history(events))
    step("Reminders (`wijkflow reminders list`)")
    _reminders(app, echo, workdir, send=False, summary=True)
    final = services.show_aanpak(app, ref)
    echo(f"\n{final['name']} is now {final['phase_label']} [{final['phase']}] after {len(events)} recorded events.")
    app.close()


def _reminders(app: App, echo: Callable[[str], None], workdir: Path, *, send: bool = True,
               summary: bool = False) -> None:
    """Send what is due to the demo's outbox folder and show it, or show what is scheduled."""
    if summary:
        rows = list_reminders(app)
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        echo("   " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
        for r in rows:
            if r["status"] == "cancelled":
                echo(f"   cancelled {r['rule']} ({r['kind']}): {r['detail']}")
        return
    if not send:
        for r in list_reminders(app, due=False):
            if r["status"] == "pending":
                echo(f"     {r['due'][:16].replace('T', ' ')}  {r['rule']} ({r['kind']}"
                     + (f", {r['criterion']}" if r["criterion"] else "") + ")")
        return
    before = set((workdir / "outbox").glob("*.eml"))
    result = send_reminders(app)
    echo(f"   wijkflow reminders send: {result['sent']} sent via {result['transport']}")
    for path in sorted(set((workdir / "outbox").glob("*.eml")) - before):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        echo(f"     to {msg['To']}: {msg['Subject']}")
