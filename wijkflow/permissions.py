"""Who may run which command: the permission matrix, as data.

The services enforce it (each checks the acting person where it changes something);
this table is what README shows and what `tests/test_permissions.py` holds every
command × every role to. A command added to the CLI without a row here fails that test.

Roles: `admin` and `auditor` are global (`people add --role`); `projectleider`,
`coordinator` and `approver` are held per wijkaanpak (`new`, `assign`); `other` is a known
person without a role on the aanpak in question; `anonymous` is nobody (`--as` not given).
"""

from __future__ import annotations

ROLES = ("admin", "auditor", "projectleider", "coordinator", "approver", "other", "anonymous")
EVERYONE = frozenset(ROLES)
PERSONS = EVERYONE - {"anonymous"}

# Reading needs no identity: whoever can open the database can read it (see README, trust model).
READ = {
    "list": EVERYONE, "show": EVERYONE, "gate": EVERYONE, "history": EVERYONE, "indicators": EVERYONE,
    "people list": EVERYONE, "workflows list": EVERYONE, "workflows show": EVERYONE,
    "workflows validate": EVERYONE, "config": EVERYONE, "info": EVERYONE,
    "audit verify": EVERYONE, "audit head": EVERYONE, "audit query": EVERYONE, "audit phases": EVERYONE,
    "audit key": EVERYONE, "audit prove": EVERYONE, "audit verifier": EVERYONE,
    # Sign with the installation's key: whoever can read the key file (the service account) can; no event, since
    # a checkpoint or bundle records the history and changes none of it.
    "audit checkpoint": EVERYONE, "audit export": EVERYONE,
    "report": EVERYONE,
    # Creates missing tables only; the database account decides whether that is possible.
    "init": EVERYONE,
    # Runs on its own throw-away database.
    "demo": EVERYONE,
    "plan show": EVERYONE, "theme list": EVERYONE, "indicator catalogue": EVERYONE,
    "reminders list": EVERYONE,
    # Renders what a reminder would say; sends nothing.
    "mail preview": EVERYONE,
    # The schema, as `init`: the database account decides whether changing it is possible.
    "db upgrade": EVERYONE, "db current": EVERYONE, "db history": EVERYONE,
    # Reads this database (as any read does) and writes only into an empty one.
    "db copy": EVERYONE,
    # Reads this database into a new file, as `db copy` does (PostgreSQL: pg_dump, with the database's rights).
    "db backup": EVERYONE,
    # ZGW documents written to a directory from what anyone may read (issue 16).
    "workflows export": EVERYONE, "export": EVERYONE,
    # The web server (issue 18): whoever may open the database may serve it; who signs in there is then checked.
    "serve": EVERYONE,
}

WRITE = {
    "new": PERSONS - {"auditor"},
    "assign": frozenset({"admin", "projectleider"}),
    "complete": frozenset({"projectleider"}),
    "approve": frozenset({"approver"}),
    "deadline": frozenset({"projectleider"}),
    "advance": frozenset({"projectleider"}),
    "advance --override": frozenset({"admin"}),
    "indicator add": frozenset({"projectleider", "coordinator"}),
    "measure": frozenset({"projectleider", "coordinator"}),
    # Figures from an open-data file onto every matching aanpak the person may measure (issue 16).
    "measure import": frozenset({"admin", "projectleider", "coordinator"}),
    # The aanpak's CBS area codes: what `new` set, changed by whoever may assign its roles.
    "area": frozenset({"admin", "projectleider"}),
    # Before the first admin is added anyone may add people (bootstrap); from then on admins only, even if none is left.
    "people add": frozenset({"admin"}),
    # Others may erase themselves only (auditors not even that: they change nothing); the last admin stays.
    "people forget": frozenset({"admin"}),
    # Retention (selectielijst): erasing old content is a decision for an administrator, and recorded.
    "audit purge": frozenset({"admin"}),
    # The aanpak's content: who may add indicators and measurements may also set their
    # baseline and target and keep the plan and themes.
    "indicator set": frozenset({"projectleider", "coordinator"}),
    "plan analyse": frozenset({"projectleider", "coordinator"}),
    "plan partner": frozenset({"projectleider", "coordinator"}),
    "plan activity": frozenset({"projectleider", "coordinator"}),
    "plan update": frozenset({"projectleider", "coordinator"}),
    "theme add": frozenset({"projectleider", "coordinator"}),
    # Reading the figures is a judgement the stuurgroep shares in (the gebiedstafel, Nijmegen).
    "interpret": frozenset({"projectleider", "coordinator", "approver"}),
    # `new` in bulk, with the same code; adding people it does not know yet is for admins.
    "import": PERSONS - {"auditor"},
    # The service's own jobs: cron and systemd run them without --as; auditors change nothing.
    "reminders send": EVERYONE - {"auditor"},
    "scheduler run": EVERYONE - {"auditor"},
    # A real message from the municipality's sender address to any address.
    "mail test": frozenset({"admin"}),
    # Failed messages back in the outbox, once whatever made them fail is fixed.
    "reminders retry": frozenset({"admin"}),
    # Re-pins an aanpak to a new definition version: who may advance it, or an administrator.
    "migrate": frozenset({"admin", "projectleider"}),
    # The daily loop (issue 12): pausing, stopping and correcting. The projectleider runs the
    # programme; an administrator may always step in. Reopening is the administrator's alone.
    "suspend": frozenset({"admin", "projectleider"}),
    "resume": frozenset({"admin", "projectleider"}),
    "stop": frozenset({"admin", "projectleider"}),
    "reopen": frozenset({"admin"}),
    "withdraw": frozenset({"admin", "projectleider"}),
    "unassign": frozenset({"admin", "projectleider"}),
    "rename": frozenset({"admin", "projectleider"}),
    "people edit": frozenset({"admin"}),
    # Personal access tokens (issue 18): one's own, so any known person, auditors too (they read through the
    # server with one); revoking someone else's is for an administrator.
    "token create": PERSONS,
    "token list": PERSONS,
    "token revoke": frozenset({"admin"}),
}

# This computer's sign-in to a server (issue 18): no database; the server decides what the token may do.
CLIENT = {"login": EVERYONE, "logout": EVERYONE}

MATRIX: dict[str, frozenset[str]] = {**{k: frozenset(v) for k, v in READ.items()}, **WRITE, **CLIENT}

NOTES = {
    "serve": "whoever may open the database; the server then checks everyone who signs in",
    "token create": "one's own; auditors too",
    "token list": "one's own tokens",
    "token revoke": "one's own; an administrator anyone's",
    "login": "on this computer: stores a token of the person who confirmed it (or whose token was given)",
    "logout": "on this computer: forgets the token and revokes it on the server",
    "approve": "the role the criterion names, by default approver; never a deliverable you completed yourself",
    "people add": "anyone until the first admin is added, to bootstrap",
    "people forget": "anyone but an auditor may erase themselves; never the last admin",
    "advance --override": "always with --reason; recorded as `gate_overridden`",
    "new": "the creator names the projectleider",
    "interpret": "approvers too: the stuurgroep reads the figures",
    "import": "as `new`; people not known yet only by an admin",
    "reminders send": "the service's own job: cron runs it without --as",
    "scheduler run": "the service's own daemon: systemd runs it without --as",
    "mail test": "sends a real message; writes no event",
    "migrate": "the aanpak's projectleider; `--all` administrators only",
    "db copy": "reads this database; writes only into an empty one, which it refuses otherwise",
    "db backup": "reads this database; writes a new file (SQLite), whoever may read the file may copy it",
    "withdraw": "whoever may give it: the projectleider for a completion, the criterion's role for an approval "
                "or sign-off",
    "people edit": "anyone but an auditor may correct their own name and language",
    "stop": "always with --reason; final until an administrator reopens it",
    "measure import": "on the matching aanpakken where the person is projectleider or coordinator; admins on all",
}


def markdown() -> str:
    """The matrix as the README table (a test keeps README and this module in step)."""
    head = "| command | " + " | ".join(ROLES) + " |"
    rule = "|---|" + "---|" * len(ROLES)
    lines = [head, rule]
    for command, allowed in MATRIX.items():
        cells = ["✓" if r in allowed else "·" for r in ROLES]
        note = f" ({NOTES[command]})" if command in NOTES else ""
        lines.append(f"| `{command}`{note} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
