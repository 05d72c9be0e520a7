"""The ZGW exports: `workflows export NAME --zgw-zaaktype DIR` and `export REF --zgw-zaak DIR` (see zgw.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .. import store
from ..app import App
from ..archief import dossier
from ..areas import Areas
from ..errors import InvalidInput
from ..zgw import Urls, check_base_url, zaak_documents, zaaktype_documents
from .common import load, local_iso, person_ref

RSIN_RE = re.compile(r"^[0-9]{9}$")


def export_zaaktype(app: App, name: str, directory: str | Path, *, base_url: str, catalogus: str | None = None,
                    selectielijstklasse: str | None = None,
                    resultaattypeomschrijving: str | None = None) -> dict[str, Any]:
    d = app.registry.get(name)
    urls = Urls(check_base_url(base_url), check_base_url(catalogus, "--catalogus") if catalogus else None)
    docs = zaaktype_documents(d, urls, today=app.now().astimezone(app.tz).date(),
                              selectielijstklasse=selectielijstklasse,
                              resultaattypeomschrijving=resultaattypeomschrijving)
    return {"workflow": d.ref, **write_documents(directory, docs)}


def check_rsin(rsin: str | None) -> str:
    """The organisation's RSIN: 9 digits passing the elfproef (as the Zaken API checks bronorganisatie)."""
    text = (rsin or "").strip()
    if not RSIN_RE.match(text) or sum(int(c) * w for c, w in zip(text[:8], range(9, 1, -1), strict=True)) % 11 \
            != int(text[8]):
        raise InvalidInput(f"--rsin '{text}' is not an RSIN (9 digits that pass the elfproef), the number of the "
                           "organisation the zaak belongs to.")
    return text


def export_zaak(app: App, ref: str, directory: str | Path, *, rsin: str, base_url: str) -> dict[str, Any]:
    rsin = check_rsin(rsin)
    urls = Urls(check_base_url(base_url))
    with app.db.read() as conn:
        ctx = load(conn, ref, app.definitions)
        rows = [e for e in store.events(conn, ctx.row.id)
                if e.type in ("aanpak_created", "phase_changed")
                or (e.type == "definition_migrated" and e.from_phase != e.to_phase)]
        people = store.people_by_id(conn, {r.person_id for r in ctx.roles})
        areas = Areas.from_codes(store.area_codes(conn, ctx.row.id))
    d, row = ctx.definition, ctx.row
    changes = [{"phase": e.to_phase, "at": local_iso(e.at, app.tz), "reason": e.reason} for e in rows if e.to_phase]
    holders = [{"role": r.role, **(person_ref(people, r.person_id) or {})} for r in ctx.roles]
    closed_on = row.phase_since.astimezone(app.tz).date() if d.is_final(row.phase) else None
    aanpak = {"id": row.id, "slug": row.slug, "name": row.name, "wijk": row.wijk, "gemeente": row.gemeente,
              "phase": row.phase, "created_on": row.created_at.astimezone(app.tz).date().isoformat(),
              "phase_changes": changes, "people": holders, "areas": areas.as_dict(),
              "archief": dossier(d, closed_on=closed_on)}
    return {"aanpak": row.slug, **write_documents(directory, zaak_documents(d, urls, aanpak, rsin=rsin))}


def write_documents(directory: str | Path, docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Each document as DIR/NAME (UTF-8 JSON). DIR may exist (its files of the same names are replaced)
    but may not be a file; nothing is written when it cannot be made."""
    root = Path(directory)
    if root.exists() and not root.is_dir():
        raise InvalidInput(f"{root} is a file, not a directory to write the JSON documents into.")
    try:
        for sub in sorted({Path(name).parent for name in docs}):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for name, doc in sorted(docs.items()):
            (root / name).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"{root} cannot be written ({e.strerror}).") from None
    return {"directory": str(root), "files": sorted(docs)}
