"""Random command sequences through the services; DESIGN.md invariants 1-3 hold after every step."""

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wijkflow import WijkflowError, services
from wijkflow.app import App
from wijkflow.definitions import load_file, shipped_dir

DEFINITION = load_file(shipped_dir() / "wijkaanpak.yaml")
PHASES = [p.key for p in DEFINITION.phases]
DELIVERABLES = [k for k, c in DEFINITION.criteria.items() if c.kind == "deliverable"]
APPROVALS = [k for k, c in DEFINITION.criteria.items() if c.kind == "approval"]
PEOPLE = ["pl@x.nl", "sg1@x.nl", "sg2@x.nl", "wr@x.nl", "admin@x.nl"]
SHIPPED = (shipped_dir() / "wijkaanpak.yaml").read_text(encoding="utf-8")
# Migration targets: the shipped definition one version up, and two up with monitor renamed to toetsen.
NEXT = DEFINITION.version + 1
RENAMED = DEFINITION.version + 2
RENAME = (("key: monitor\n", "key: toetsen\n"), ("source: monitor", "source: toetsen"),
          ("dest: monitor", "dest: toetsen"), ("phase: monitor", "phase: toetsen"))
MAPPINGS = [{}, {"monitor": "toetsen"}, {"initiate": "design"}, {"design": "execute"}, {"monitor": "evaluate"},
            {"execute": "monitor"}]


def _version(n: int, *changes: tuple[str, str]) -> str:
    text = SHIPPED.replace(f"\nversion: {DEFINITION.version}\n", f"\nversion: {n}\n", 1)
    for old, new in changes:
        text = text.replace(old, new)
    return text


class Lifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="wijkflow-hyp-"))
        self.now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        self.app = App.open(f"sqlite:///{self.dir / 'w.db'}", clock=lambda: self.now)
        self.app.db.init()
        for email in PEOPLE:
            services.add_person(self.app, email, name=email.split("@")[0],
                                role="admin" if email.startswith("admin") else None)
        for name in ("Noord", "Zuid"):
            services.create_aanpak(self.app, name, wijk=name, leader="pl@x.nl", coordinators=("wr@x.nl",),
                                   approvers=("sg1@x.nl", "sg2@x.nl"), acting="pl@x.nl")
        self.changes = 0
        self.files = {NEXT: self.dir / "next.yaml", RENAMED: self.dir / "renamed.yaml"}
        self.files[NEXT].write_text(_version(NEXT), encoding="utf-8")
        self.files[RENAMED].write_text(_version(RENAMED, *RENAME), encoding="utf-8")

    def teardown(self) -> None:
        self.app.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _try(self, call) -> None:
        before = self._events()
        try:
            call()
        except WijkflowError:
            assert self._events() == before, "a refused command wrote an event"

    def _events(self) -> int:
        with self.app.db.read() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM audit_event")).scalar_one()

    @rule(ref=st.sampled_from(["noord", "zuid"]), key=st.sampled_from(DELIVERABLES),
          who=st.sampled_from(PEOPLE), evidence=st.one_of(st.none(), st.text(max_size=30)))
    def complete(self, ref, key, who, evidence):
        self._try(lambda: services.complete(self.app, ref, key, evidence=evidence, acting=who))

    @rule(ref=st.sampled_from(["noord", "zuid"]), key=st.sampled_from(APPROVALS), who=st.sampled_from(PEOPLE))
    def approve(self, ref, key, who):
        self._try(lambda: services.approve(self.app, ref, key, acting=who))

    @rule(ref=st.sampled_from(["noord", "zuid"]), to=st.one_of(st.none(), st.sampled_from(PHASES)),
          who=st.sampled_from(PEOPLE), override=st.booleans())
    def advance(self, ref, to, who, override):
        self._try(lambda: services.advance(self.app, ref, acting=who, to=to, override=override,
                                           reason="hypothese" if override else None))

    @rule(ref=st.sampled_from(["noord", "zuid"]), key=st.sampled_from(["veiligheid", "actief"]),
          baseline=st.one_of(st.none(), st.floats(0, 100)))
    def indicator(self, ref, key, baseline):
        self._try(lambda: services.add_indicator(self.app, ref, key, label=key, baseline=baseline,
                                                 acting="wr@x.nl"))

    @rule(ref=st.sampled_from(["noord", "zuid"]), key=st.sampled_from(["veiligheid", "actief"]),
          value=st.sampled_from(["1", "2,5", "x", ""]))
    def measure(self, ref, key, value):
        self._try(lambda: services.measure(self.app, ref, key, value, acting="wr@x.nl"))

    @rule(ref=st.sampled_from(["noord", "zuid"]), to=st.sampled_from([NEXT, RENAMED]),
          mapping=st.sampled_from(MAPPINGS), who=st.sampled_from(PEOPLE), override=st.booleans())
    def migrate(self, ref, to, mapping, who, override):
        from wijkflow.services.migrate import migrate

        self._try(lambda: migrate(self.app, ref, to_version=to, workflow=str(self.files[to]), mapping=mapping,
                                  override=override, reason="hypothese" if override else None, acting=who))

    @rule(days=st.integers(0, 120))
    def time_passes(self, days):
        self.now += timedelta(days=days)

    @invariant()
    def invariants_hold(self):
        with self.app.db.read() as conn:
            aanpakken = conn.execute(sa.text("SELECT id, phase, version FROM aanpak")).all()
            for a in aanpakken:
                latest = conn.execute(sa.text(
                    "SELECT to_phase FROM audit_event WHERE aanpak_id=:a AND to_phase IS NOT NULL "
                    "ORDER BY id DESC LIMIT 1"), {"a": a.id}).scalar_one()
                # 1. The phase equals the destination of the latest phase-setting event.
                assert a.phase == latest
                changes = conn.execute(sa.text(
                    "SELECT payload FROM audit_event WHERE aanpak_id=:a AND type='phase_changed'"),
                    {"a": a.id}).scalars().all()
                migrations = conn.execute(sa.text(
                    "SELECT from_phase, to_phase, payload FROM audit_event WHERE aanpak_id=:a "
                    "AND type='definition_migrated'"), {"a": a.id}).all()
                assert len(changes) + len(migrations) == a.version - 1
                # A migration only renames: a phase it changes is gone from the new version, and the
                # new phase was not in the old one (moving on is a phase_changed, checked below).
                for m in migrations:
                    if m.from_phase != m.to_phase:
                        p = json.loads(m.payload)
                        assert (p["from_version"], p["to_version"]) != (DEFINITION.version, NEXT)
                        assert (m.from_phase, m.to_phase) == ("monitor", "toetsen")
                # 2. No phase change unless every blocking criterion was met, or an admin overrode it.
                for raw in changes:
                    p = json.loads(raw)
                    assert p["override"] or all(c["met"] or c["optional"] for c in p["gate"])
            # 3. Every change has its event, and no event lacks its change.
            records = conn.execute(sa.text("SELECT count(*) FROM criterion_record")).scalar_one()
            record_events = conn.execute(sa.text(
                "SELECT count(*) FROM audit_event WHERE type IN ('criterion_completed','criterion_approved')")
            ).scalar_one()
            assert records == record_events
            for table, kind in (("measurement", "measurement_recorded"), ("indicator", "indicator_added")):
                rows = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                events = conn.execute(sa.text("SELECT count(*) FROM audit_event WHERE type=:t"),
                                      {"t": kind}).scalar_one()
                assert rows == events


Lifecycle.TestCase.settings = settings(max_examples=25, stateful_step_count=40, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
TestLifecycle = Lifecycle.TestCase
