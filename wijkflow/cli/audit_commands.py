"""For auditors: verify the history, pin its head, query it, time in phase; and the HTML reports."""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

from ..audit_columns import COLUMNS, who
from ..provenance import describe as describe_origin
from ..spreadsheet import EXCEL_BOM
from . import FORMATS, Flags, cli, open_app, pass_flags
from .bulk import show_progress
from .render import as_csv, as_table, csv_writer, emit, excel_cell


@cli.group()
def audit() -> None:
    """The tamper-evident history: verify it, sign checkpoints, prove events, export bundles an outsider can
    check, query it, time spent per phase."""


@audit.command("verify")
@click.option("--expect-head", "expect_head", default=None, metavar="HASH",
              help="A head printed earlier by `wijkflow audit head` and kept outside the database; "
                   "it must still be in the chain.")
@click.option("--checkpoint", "checkpoint_file", default=None, metavar="FILE",
              help="A signed checkpoint kept earlier (`wijkflow audit checkpoint > FILE`): it must be genuine, "
                   "this database's, and the events it covers unchanged.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def audit_verify(flags: Flags, expect_head: str | None, checkpoint_file: str | None, fmt: str) -> None:
    """Check every event, recompute the hash chain and the Merkle tree.

    Exit code 7 names the first event that was edited, deleted, swapped, inserted or stored
    in a form wijkflow does not write (a re-written time, binary data). Events deleted from
    the very end can only be noticed against a checkpoint (or head) kept outside the database.

    \b
      wijkflow audit checkpoint > checkpoint-2026-05.txt     (keep it elsewhere)
      wijkflow audit verify --checkpoint checkpoint-2026-05.txt
    """
    from ..services.audit import verify
    from ..services.audit_log import read_note

    app = open_app(flags)
    note = read_note(checkpoint_file) if checkpoint_file is not None else None
    v = verify(app, expect_head=expect_head, checkpoint=note)

    def text() -> str:
        if not v["checked"]:
            return "The history is empty: 0 events checked."
        out = [f"Verified {v['checked']} events: the history is intact.",
               f"Head: event #{v['head_id']} {v['head_hash']}",
               f"Merkle root: {v['root']} ({v['tree_size']} events)"]
        if v["expected_head_at"] is not None:
            n = v["appended_since_expected"]
            out.append(f"The head you kept is event #{v['expected_head_at']}; "
                       f"{n} event{'' if n == 1 else 's'} {'was' if n == 1 else 'were'} added after it.")
        if v["checkpoint_size"] is not None:
            n = v["appended_since_checkpoint"]
            out.append(f"The checkpoint you kept covers {v['checkpoint_size']} events, unchanged; "
                       f"{n} event{'' if n == 1 else 's'} {'was' if n == 1 else 'were'} added after it.")
        return "\n".join(out)

    emit(v, fmt, table=text)


@audit.command("key")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def audit_key(flags: Flags, fmt: str) -> None:
    """Print the public key that signs this database's checkpoints (give it to the auditor).

    The private half is a file outside the database (WIJKFLOW_AUDIT_KEY_FILE, made by
    `wijkflow init`, readable by its owner only). The line printed is a verifier key
    (name+keyid+base64) as the shipped verifier takes it: python verify.py BUNDLE --key FILE.
    """
    from ..services.audit_log import public_key

    app = open_app(flags)
    k = public_key(app)
    emit(k, fmt, table=lambda: k["key"])


@audit.command("checkpoint")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def audit_checkpoint(flags: Flags, fmt: str) -> None:
    """Sign a checkpoint of the history as it is now (tree size, Merkle root, time), store it and print it.

    Keep the printed note outside the database (minutes, a mail to the accountant);
    `audit verify --checkpoint FILE` and `audit prove --from FILE` check against it later.
    """
    from ..services.audit_log import make_checkpoint

    app = open_app(flags)
    c = make_checkpoint(app)
    if fmt == "json":
        emit(c, fmt)
    else:
        sys.stdout.write(c["note"])


@audit.command("prove")
@click.argument("event", required=False, type=int)
@click.option("--from", "old_file", default=None, metavar="OLD-CHECKPOINT",
              help="A checkpoint kept earlier: prove that today's log extends it (consistency proof).")
@pass_flags
def audit_prove(flags: Flags, event: int | None, old_file: str | None) -> None:
    """Prove that event EVENT is in the latest checkpoint (inclusion), or with --from that the log
    extends an older checkpoint (consistency). Prints JSON that the shipped verifier checks.

    \b
      wijkflow audit prove 25 > proof-25.json
      wijkflow audit prove --from checkpoint-2026-05.txt > consistency.json
    """
    from ..services.audit_log import prove_consistency, prove_inclusion, read_note

    if (event is None) == (old_file is None):
        raise click.UsageError("Give either EVENT or --from OLD-CHECKPOINT.")
    app = open_app(flags)
    proof = prove_inclusion(app, event) if event is not None else prove_consistency(app, read_note(old_file or ""))
    click.echo(json.dumps(proof, indent=2, ensure_ascii=False))


@audit.command("head")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def audit_head(flags: Flags, fmt: str) -> None:
    """Print the chain head (the hash of the latest event) to keep outside the database.

    An administrator with write access could rewrite the history and recompute every
    hash; a head kept elsewhere (mailed to the accountant, printed in the minutes)
    exposes that: `wijkflow audit verify --expect-head HASH`.
    """
    from ..services.audit import head

    app = open_app(flags)
    h = head(app)
    emit(h, fmt, table=lambda: f"{h['hash']}  event #{h['id']}  {h['at']}" if h["id"]
         else f"{h['hash']}  (no events yet)")


WIDTHS = [("id", "#", 6), ("at", "When", 16), ("aanpak", "Aanpak", 22), ("type", "Type", 20),
          ("actor", "Who", 20), ("what", "What", 60)]


def _what(e: dict[str, Any]) -> str:
    p = e["payload"]
    if e["type"] == "phase_changed":
        text = f"{e['from_label']} -> {e['to_label']}" + (" (OVERRIDE)" if e["override"] else "")
    elif e["type"] == "aanpak_created":
        text = f"created in {e['to_label']}"
    elif e["type"] == "definition_migrated":
        text = f"{p.get('from')} -> v{p.get('to_version')}" + (
            f", {e['from_phase']} -> {e['to_phase']}" if e["from_phase"] != e["to_phase"] else "")
    elif "criterion" in p:
        text = p["criterion"]
    elif e["type"] in ("role_assigned", "person_added", "person_forgotten") and e["person"]:
        text = who(e["person"]) + (f" as {p['role']}" if p.get("role") else "")
    elif e["type"] == "measurement_recorded":
        text = f"{p['indicator']} = {p['value']:g} ({p['date']})"
    elif e["type"] == "indicator_added":
        text = p["key"]
    else:
        text = ""
    detail = e["reason"] or e["evidence"]
    return f"{text}: {detail}" if text and detail else text or (detail or "")


def _table_lines(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "  ".join(h.ljust(w) for _, h, w in WIDTHS).rstrip()
    yield "  ".join("-" * w for _, _, w in WIDTHS)
    for e in rows:
        cells = {"id": str(e["id"]), "at": (e["at"] or "")[:16].replace("T", " "), "aanpak": e["aanpak"] or "",
                 "type": e["type"], "actor": (e["actor"] or {}).get("name") or "", "what": _what(e).replace("\n", " ")}
        yield "  ".join((v if len(v) <= w else v[: w - 1] + "…").ljust(w)
                        for v, (_, _, w) in zip((cells[k] for k, _, _ in WIDTHS), WIDTHS, strict=True)).rstrip()
        if e.get("origin"):  # under the row, as the gate: the columns stay as scripts and people know them
            yield f"{'':8}{describe_origin(e['origin'])}"
        for c in e["gate"]:
            mark = "[x]" if c["met"] else "[ ]"
            by = f" by {who(c['by'])}" if c["by"] else ""
            on = f" on {c['at'][:10]}" if c["at"] else ""
            yield f"{'':8}{mark} {c['label']} [{c['key']}]: {c['why']}{by}{on}"
            if c["evidence"]:
                yield f"{'':14}evidence: {c['evidence']}"
            if c["comment"]:
                yield f"{'':14}comment: {c['comment']}"


@audit.command("query")
@click.option("--aanpak", default=None, metavar="REF", help="Only this wijkaanpak (number or slug).")
@click.option("--wijk", default=None, help="Only aanpakken in this wijk.")
@click.option("--gemeente", default=None, help="Only aanpakken in this municipality.")
@click.option("--phase", default=None, help="Only events in, into or out of this phase (key, e.g. execute).")
@click.option("--actor", default=None, metavar="EMAIL|N", help="Only what this person did (email, or number).")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only events of this type, e.g. phase_changed (repeatable).")
@click.option("--since", default=None, metavar="DATE", help="From this day (YYYY-MM-DD, local) or date-time.")
@click.option("--until", default=None, metavar="DATE", help="Up to and including this day or date-time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv", "csv-excel"]), default="table",
              show_default=True, help="table for people; json, jsonl or csv for scripts and spreadsheets; "
                                      "csv-excel for Excel with a Dutch locale.")
@click.option("--raw-csv", "raw_csv", is_flag=True,
              help="With --format csv: every cell exactly as stored, without the quote that stops a spreadsheet "
                   "from running a cell starting with = + - @ as a formula (for byte-exact comparisons, not for "
                   "opening in a spreadsheet).")
@pass_flags
def audit_query(flags: Flags, aanpak: str | None, wijk: str | None, gemeente: str | None, phase: str | None,
                actor: str | None, types: tuple[str, ...], since: str | None, until: str | None, fmt: str,
                raw_csv: bool) -> None:
    """Who did what, when, why and on what evidence: the history, filtered.

    Phase changes list their gate: each criterion, who met it, the evidence, who approved.
    Output streams, so exporting millions of events needs little memory.

    \b
    Who moved an aanpak to execute, when, on what evidence, and who approved it:
      wijkflow audit query --aanpak wijkaanpak-noord --type phase_changed --phase execute
    Everything, for a spreadsheet:
      wijkflow audit query --format csv > history.csv

    In CSV, a text cell starting with = + - @ (a tab or CR) gets a ' in front so that a
    spreadsheet shows it instead of running it as a formula; --raw-csv and json/jsonl give
    the cells as stored.
    """
    from ..services.audit import query

    if raw_csv and fmt != "csv":
        raise click.UsageError("--raw-csv goes with --format csv.")
    filters: dict[str, Any] = {"aanpak": aanpak, "wijk": wijk, "gemeente": gemeente, "phase": phase,
                               "actor": actor, "types": types, "since": since, "until": until}
    app = open_app(flags)
    if fmt == "csv-excel":
        from ..services.audit_export import csv_rows

        _excel_export(csv_rows(app, raw=True, **filters))
        return
    if fmt == "csv":
        from ..services.audit_export import count, csv_chunks

        _csv_export(csv_chunks(app, raw=raw_csv, **filters),
                    total=lambda: count(app, **filters))
        return
    rows = query(app, **filters)
    first = next(rows, None)  # the filters are checked here: bad input fails before any output
    stream = itertools.chain([first], rows) if first is not None else iter(())
    # Plain writes to one buffered stream: click.echo flushes on every call, which costs more
    # than everything else together on a million rows.
    out = sys.stdout
    if fmt == "jsonl":
        for e in stream:
            out.write(json.dumps(e, ensure_ascii=False, default=str) + "\n")
    elif fmt == "json":
        out.write("[")
        for i, e in enumerate(stream):
            out.write(("," if i else "") + "\n  " + json.dumps(e, ensure_ascii=False, default=str))
        out.write("\n]\n" if first is not None else "]\n")
    elif first is None:
        out.write("No events match.\n")
    else:
        for line in _table_lines(stream):
            out.write(line + "\n")
    out.flush()


def _csv_export(chunks: Iterator[tuple[int, str]], *, total: Callable[[], int]) -> None:
    """The CSV export: written as the service streams it from the database in large pieces
    (services/audit_export.py), with a progress bar when a person watches a terminal while the
    rows go to a file or a pipe."""
    first = next(chunks, None)  # the filters are checked here: bad input fails before any output
    out = sys.stdout
    csv.writer(out, lineterminator="\n").writerow(COLUMNS)
    if first is not None:
        out.write(first[1])
        if show_progress():
            with click.progressbar(length=total(), label="Exporting events",
                                   file=sys.stderr) as bar:
                bar.update(first[0])
                for n, text in chunks:
                    out.write(text)
                    bar.update(n)
        else:
            for _, text in chunks:
                out.write(text)
    out.flush()


@audit.command("export")
@click.option("--bundle", "bundle", required=True, metavar="DIR",
              help="A new (or empty) directory for the auditor's bundle.")
@click.option("--aanpak", default=None, metavar="REF", help="Only this wijkaanpak (number or slug).")
@click.option("--wijk", default=None, help="Only aanpakken in this wijk.")
@click.option("--gemeente", default=None, help="Only aanpakken in this municipality.")
@click.option("--phase", default=None, help="Only events in, into or out of this phase.")
@click.option("--actor", default=None, metavar="EMAIL|N", help="Only what this person did.")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only events of this type (repeatable).")
@click.option("--since", default=None, metavar="DATE", help="From this day (YYYY-MM-DD, local) or date-time.")
@click.option("--until", default=None, metavar="DATE", help="Up to and including this day or date-time.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def audit_export(flags: Flags, bundle: str, aanpak: str | None, wijk: str | None, gemeente: str | None,
                 phase: str | None, actor: str | None, types: tuple[str, ...], since: str | None, until: str | None,
                 fmt: str) -> None:
    """Write an auditor's bundle: the selected events in their canonical form, an inclusion proof per
    event, a signed checkpoint, a signed list of what was selected, the public key and the verifier.

    The auditor checks it without wijkflow, with the key received separately:

    \b
      wijkflow audit export --bundle noord-2026 --aanpak wijkaanpak-noord --since 2026-01-01
      python3 noord-2026/verify.py noord-2026 --key key-from-the-programme-office.txt
    """
    from ..services.audit_bundle import export_bundle

    app = open_app(flags)
    r = export_bundle(app, bundle, aanpak=aanpak, wijk=wijk, gemeente=gemeente, phase=phase, actor=actor,
                      types=types, since=since, until=until)
    emit(r, fmt, table=lambda: f"Wrote {r['events']} events with their proofs to {r['directory']} "
                               f"(checkpoint of {r['tree_size']} events; key {r['key']}).")


@audit.command("verifier")
def audit_verifier() -> None:
    """Print the standalone bundle verifier (Python standard library only): wijkflow audit verifier > verify.py"""
    from ..services.audit_bundle import verifier_source

    sys.stdout.write(verifier_source())


@audit.command("purge")
@click.option("--before", required=True, metavar="DATE",
              help="Erase the content of events before this day (YYYY-MM-DD, local).")
@click.option("--reason", required=True, help="The retention rule applied, e.g. 'Selectielijst 2020, cat. 1.1'.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def audit_purge(flags: Flags, before: str, reason: str, fmt: str) -> None:
    """Erase the content (reason, evidence, payload) of old events under a retention schedule.

    What happened, in what order, when and by whom stays; so does every checkpoint and proof,
    because each event's leaf commits to digests of its content, which are kept. Administrators
    only; the purge itself is an audit event.

    \b
      wijkflow audit purge --before 2021-01-01 --reason "Selectielijst gemeenten 2020, 1.1.2" --as ADMIN
    """
    from ..services.audit_retention import purge

    app = open_app(flags)
    r = purge(app, before=before, reason=reason, acting=app.settings.user)
    emit(r, fmt, table=lambda: f"Erased the content of {r['erased']} events before {r['before']}; every proof still "
                               f"verifies (event #{r['event']} records the purge).")
def _excel_export(rows: Iterator[list[Any]]) -> None:
    """The export for Excel in nl-NL (`;`, BOM, decimal comma, nl-NL dates; render.excel_cell), row by row."""
    first = next(rows, None)  # the filters are checked here: bad input fails before any output
    out = sys.stdout
    out.write(EXCEL_BOM)
    writer = csv_writer(out, "csv-excel")
    writer.writerow(COLUMNS)
    if first is not None:
        writer.writerows([excel_cell(v) for v in row] for row in itertools.chain([first], rows))
    out.flush()


@audit.command("phases")
@click.option("--aanpak", default=None, metavar="REF", help="Only this wijkaanpak.")
@click.option("--wijk", default=None, help="Only aanpakken in this wijk.")
@click.option("--gemeente", default=None, help="Only aanpakken in this municipality.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@pass_flags
def audit_phases(flags: Flags, aanpak: str | None, wijk: str | None, gemeente: str | None, fmt: str) -> None:
    """Days spent in each phase per aanpak, and median / p90 days per phase over the portfolio.

    Derived from the history. Median and p90 count stays that ended (the aanpak moved
    on); stays still running are counted as ongoing.
    """
    from ..services.audit import phases

    app = open_app(flags)
    r = phases(app, aanpak=aanpak, wijk=wijk, gemeente=gemeente)
    flat = [{"aanpak": a["slug"], "wijk": a["wijk"], "gemeente": a["gemeente"], **p}
            for a in r["aanpakken"] for p in a["phases"]]

    def text() -> str:
        if not r["aanpakken"]:
            return "No wijkaanpakken yet."
        per = as_table([{**f, "current": "now" if f["current"] else ""} for f in flat], [
            ("aanpak", "Aanpak"), ("wijk", "Wijk"), ("label", "Phase"), ("days", "Days"), ("visits", "Visits"),
            ("current", "")])
        summary = as_table(r["portfolio"], [("label", "Phase"), ("stays", "Completed stays"),
                                            ("median_days", "Median days"), ("p90_days", "p90 days"),
                                            ("ongoing", "Ongoing")])
        return f"Time in phase per aanpak (until {r['at'][:10]}):\n{per}\n\nPortfolio:\n{summary}"

    if fmt in ("csv", "csv-excel"):
        click.echo(as_csv(flat, ["aanpak", "wijk", "gemeente", "phase", "label", "days", "visits", "current"], fmt),
                   nl=False)
    else:
        emit(r, fmt, table=text)


@cli.command()
@click.argument("ref", required=False)
@click.option("--portfolio", is_flag=True, help="Every wijkaanpak on one page instead of one.")
@click.option("--html", "html", required=True, metavar="FILE", type=str,
              help="Where to write the page (one self-contained HTML file). Never the database, a link, a "
                   "directory or a device; an existing file only if it is an earlier wijkflow report.")
@click.option("--force", is_flag=True, help="Replace an existing FILE that is not a wijkflow report.")
@pass_flags
def report(flags: Flags, ref: str | None, portfolio: bool, html: str, force: bool) -> None:
    """Write an HTML report on wijkaanpak REF, or on the whole portfolio with --portfolio.

    One self-contained page (nothing loaded from the internet) that prints cleanly to
    PDF from a browser: the phase timeline, each gate with its criteria, evidence and
    approvals, the indicators as small charts, and the history.
    """
    from ..services.reports import aanpak_report, portfolio_report

    if (ref is None) == (not portfolio):
        raise click.UsageError("Give either REF or --portfolio (not both).")
    app = open_app(flags)
    r = (portfolio_report(app, html, force=force) if portfolio
         else aanpak_report(app, ref or "", html, force=force))
    click.echo(f"Wrote {r['path']} ({r['what']}, {r['bytes']:,} bytes).")

