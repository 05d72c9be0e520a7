"""Zaakgericht werken: a definition as a ZGW zaaktype, an aanpak as a zaak (wijkflow/zgw.py)."""

from __future__ import annotations

import click

from . import Flags, cli, open_app, pass_flags
from .admin import workflows
from .render import emit

BASE_URL = "http://localhost:8000"
BASE_HELP = ("The Catalogi/Zaken API the documents are meant for; their URLs are made under it "
             f"[default: {BASE_URL}, Open Zaak on a developer's machine].")


@workflows.command("export")
@click.argument("name")
@click.option("--zgw-zaaktype", "directory", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="Write the definition as a ZGW Catalogi zaaktype into DIR: one JSON file per resource.")
@click.option("--base-url", default=BASE_URL, help=BASE_HELP)
@click.option("--catalogus", default=None, metavar="URL", help="The CATALOGUS the zaaktype belongs to.")
@click.option("--selectielijstklasse", default=None, metavar="URL",
              help="The Selectielijst API RESULTAAT, when the definition's archief: does not state it.")
@click.option("--resultaattypeomschrijving", default=None, metavar="URL",
              help="The generic result description (Selectielijst API), when the definition does not state it.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def workflows_export(flags: Flags, name: str, directory: str, base_url: str, catalogus: str | None,
                     selectielijstklasse: str | None, resultaattypeomschrijving: str | None, fmt: str) -> None:
    """Export definition NAME as a zaaktype of the ZGW Catalogi API (as Open Zaak imports it).

    Statustypen follow the phases (the final phase is the eindstatus) with the gate's
    deliverables as checklistitems; roltypen the roles; resultaattypen Afgesloten and Gestopt
    with the archiefnominatie and bewaartermijn of the definition's `archief:`.

    \b
    Example:
      wijkflow workflows export wijkaanpak --zgw-zaaktype zaaktype/ \\
          --selectielijstklasse https://selectielijst.openzaak.nl/api/v1/resultaten/UUID \\
          --resultaattypeomschrijving https://selectielijst.openzaak.nl/api/v1/resultaattypeomschrijvingen/UUID
    """
    from ..services.zgw import export_zaaktype

    app = open_app(flags)
    r = export_zaaktype(app, name, directory, base_url=base_url, catalogus=catalogus,
                        selectielijstklasse=selectielijstklasse, resultaattypeomschrijving=resultaattypeomschrijving)
    emit(r, fmt, table=lambda: f"Wrote {r['workflow']} as a zaaktype: {len(r['files'])} files in {r['directory']}.")


@cli.command("export")
@click.argument("ref")
@click.option("--zgw-zaak", "directory", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="Write the aanpak as a ZGW zaak into DIR: zaak, statussen, rollen, zaakobjecten, resultaat.")
@click.option("--rsin", required=True, help="The RSIN of the municipality (bronorganisatie).")
@click.option("--base-url", default=BASE_URL, help=BASE_HELP)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_flags
def export_cmd(flags: Flags, ref: str, directory: str, rsin: str, base_url: str, fmt: str) -> None:
    """Export wijkaanpak REF as a zaak of the ZGW Zaken API, of the zaaktype `workflows export` writes.

    Every phase change is a status (time and reason as toelichting); bijsturen back to an
    earlier phase sets that earlier status again. Everyone with a role is a rol; the CBS codes
    are zaakobjecten (gemeente, wijk, buurt).
    """
    from ..services.zgw import export_zaak

    app = open_app(flags)
    r = export_zaak(app, ref, directory, rsin=rsin, base_url=base_url)
    emit(r, fmt, table=lambda: f"Wrote {r['aanpak']} as a zaak: {len(r['files'])} files in {r['directory']}.")
