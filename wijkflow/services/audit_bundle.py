"""`audit export --bundle DIR`: what an auditor needs to check a selection of events without wijkflow.

    events.jsonl    the selected events, one canonical line each (docs/audit-format.md)
    proofs.jsonl    per event its inclusion proof in the checkpoint's tree
    checkpoint.txt  the signed checkpoint the proofs lead to
    selection.txt   a signed note naming exactly which events were selected (so none can be left out)
    key.txt         the log's public key (compare it with the one you received separately)
    verify.py       the standalone verifier (`wijkflow audit verifier`)

Every file goes through outputs.check_output's rules; the directory must be new or empty (or an
earlier bundle, whose files are replaced).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import checkpoint as notes
from .. import merkle, store
from ..app import App
from ..audit_format import bundle_line
from ..errors import InvalidInput, StorageError
from ..outputs import check_output, replace_with, shown
from . import audit_log
from .audit import resolve_filters

FILES = ("events.jsonl", "proofs.jsonl", "checkpoint.txt", "selection.txt", "key.txt", "verify.py")
VERIFIER = Path(__file__).resolve().parent.parent / "audit_verifier.py"


def verifier_source() -> str:
    return VERIFIER.read_text(encoding="utf-8")


def id_ranges(ids: list[int]) -> str:
    """'1-17,20,25-30' for ascending ids ('' for none)."""
    parts: list[str] = []
    i = 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        parts.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(parts)


def _directory(path: str) -> Path:
    target = Path(path).expanduser()
    if target.is_symlink():
        raise InvalidInput(f"{shown(target)} is a symbolic link; give the real path of the bundle directory.")
    if target.exists():
        if not target.is_dir():
            raise InvalidInput(f"{shown(target)} exists and is not a directory; give a new directory for the bundle.")
        strange = sorted(p.name for p in target.iterdir() if p.name not in FILES)
        if strange:
            raise InvalidInput(f"{shown(target)} holds other files ({shown(strange[0])}); give a new or empty "
                               "directory for the bundle.")
    elif not target.parent.is_dir():
        raise InvalidInput(f"The directory {shown(target.parent)} does not exist; nothing was written.")
    return target


def export_bundle(app: App, directory: str, **filters: Any) -> dict[str, Any]:
    """Write the bundle of the events matching `filters` (as `audit query` takes them) into `directory`."""
    target = _directory(directory)
    with app.db.read() as conn:
        resolve_filters(conn, app, **filters)  # bad filters fail before anything is written or signed
        latest = store.latest_checkpoint(conn)
        current = store.count_events(conn)
    cp = latest if latest is not None and latest.size == current else None
    note = cp.note if cp is not None else audit_log.make_checkpoint(app)["note"]
    size = notes.parse(note).size
    key_info = audit_log.ensure_key(app)
    try:
        target.mkdir(exist_ok=True)
    except OSError as exc:
        raise StorageError(f"Cannot make the directory {shown(target)}: {exc.strerror or exc}.") from None
    for name in FILES:
        check_output(target / name, database=app.db.path, ours=lambda _p: True, kind="audit bundle file")
    ids: list[int] = []
    with app.db.read() as conn:
        f, _, _ = resolve_filters(conn, app, **filters)
        _write(target / "events.jsonl", _lines(store.query_events(conn, **f), size, ids))
        needed = {r for i in ids for r in merkle.inclusion_ranges(i - 1, size)}
        found = merkle.subtree_hashes((bytes.fromhex(h) for h in store.stream_leaves(conn, size)), size, needed)
    _write(target / "proofs.jsonl", (json.dumps({"id": i, "hashes": [found[r].hex() for r in
                                                                       merkle.inclusion_ranges(i - 1, size)]},
                                                separators=(",", ":")) + "\n" for i in ids))
    described = json.dumps({k: v for k, v in filters.items() if v not in (None, (), "")}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False, default=list)
    selection = (f"{key_info['origin']}\nwijkflow audit bundle\n{size}\nfilters {described}\n"
                 f"events {len(ids)}\nids {id_ranges(ids)}\n")
    signed = notes.sign_text(audit_log.signing_key(app), key_info["origin"], selection)
    for name, text in (("checkpoint.txt", note), ("selection.txt", signed), ("key.txt", key_info["key"] + "\n"),
                       ("verify.py", verifier_source())):
        _write(target / name, iter([text]))
    return {"directory": str(target), "events": len(ids), "tree_size": size, "key": key_info["key"]}


def _lines(rows: Iterator[Any], size: int, ids: list[int]) -> Iterator[str]:
    for row in rows:
        if row.id > size:  # appended after the checkpoint was taken: not in its tree
            break
        ids.append(row.id)
        yield bundle_line(row._asdict()) + "\n"


def _write(target: Path, chunks: Iterator[str]) -> None:
    """All or nothing (outputs.replace_with), as UTF-8 with `\n` line ends."""
    replace_with(target, (chunk.encode("utf-8") for chunk in chunks), prefix=".wijkflow-bundle-")
