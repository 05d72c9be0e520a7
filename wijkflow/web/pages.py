"""The pages of `wijkflow serve`: Mijn taken, the aanpak, its forms, the portfolio and the auditor's views.

Thin, like the CLI: each route finds the visitor (require_visitor), calls one service (the same one
the CLI command calls, with acting=visitor.email) and renders a template. A form is two steps: GET
shows what will happen, in words ("U keurt 'X' goed voor Wijkaanpak Noord"), with the form; POST
checks the CSRF token (checked_form) and calls the service inside `identity.acting(...)`. A refusal
(NotAllowed, GateNotMet, InvalidInput, Conflict, NotFound) shows the same page again, with a message
in the visitor's language and the service's own sentence, at 403/409/400/409/404: nothing was
written, because the service writes all or nothing.

The pages need no script. Services are synchronous: GET routes are plain functions (Starlette runs
them on its thread pool), POST routes read the form and then run the service on the thread pool.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .. import events, services
from ..app import App
from ..errors import AuditFailed, Conflict, GateNotMet, InvalidInput, NotAllowed, NotFound, WijkflowError
from ..i18n import normal_locale
from ..services import tasks
from . import errors, identity
from .identity import Visitor
from .render import STATIC, render

AUDIT_ROWS = 200  # the query page shows this many events; the CSV download holds every one
DONE = ("completed", "approved", "signed", "measured", "advanced")  # ?klaar= on the aanpak page


def _app(request: Request) -> App:
    app: App = request.app.state.wijkflow
    return app


def _today(request: Request) -> str:
    """The local day by the App's clock (WIJKFLOW_NOW in replays), as the CLI's clock reads it."""
    app = _app(request)
    return app.now().astimezone(app.tz).date().isoformat()


def _lang(who: Visitor) -> str:
    return normal_locale(who.locale)


def _text(form: FormData, name: str) -> str | None:
    """A form field as the CLI would get it: None when left empty."""
    value = form.get(name)
    return value if isinstance(value, str) and value.strip() else None


# --- Mijn taken, the aanpak ---


def tasks_page(request: Request) -> Response:
    who = identity.require_visitor(request)
    return render(request, "tasks.html.j2", tasks=tasks.my_tasks(_app(request), who.email, locale=_lang(who)))


def aanpak_page(request: Request) -> Response:
    who = identity.require_visitor(request)
    data = tasks.aanpak_page(_app(request), request.path_params["ref"], who.email, locale=_lang(who))
    done = request.query_params.get("klaar")
    return render(request, "aanpak.html.j2", done=done if done in DONE else None, **data)


# --- the forms ---


def _kind(error: WijkflowError) -> str:
    """Which refusal it is, for the page's heading (a subclass such as DefinitionError is bad input too)."""
    return next((k.__name__ for k in (GateNotMet, NotAllowed, InvalidInput, Conflict, NotFound)
                 if isinstance(error, k)), "other")


class Form:
    """One kind of form on an aanpak: what its confirmation page says and which service it calls."""

    def __init__(self, kind: str, done: str, call: Callable[[App, str, str | None, FormData, str], Any]) -> None:
        self.kind = kind
        self.done = done
        self.call = call  # (app, ref, criterion key, form, acting email)

    def show(self, request: Request, who: Visitor, *, error: WijkflowError | None = None,
             form: FormData | None = None) -> Response:
        ref, key = request.path_params["ref"], request.path_params.get("key")
        info = tasks.aanpak_actions(_app(request), ref, who.email, locale=_lang(who))
        criterion = None
        if key is not None:
            criterion = info["criteria"].get(key)
            if criterion is None:
                raise NotFound(f"{info['name']} has no criterion '{key}'.")
        unmet: list[dict[str, Any]] = []
        if isinstance(error, GateNotMet):
            unmet = [{"key": c.key, "label": c.label, "why": c.why_in(_lang(who))} for c in error.unmet]
        # The gate the advance is about: the one asked for (?naar=, or the form's), else an open one, else the first.
        wanted = (form.get("to") if form is not None else None) or request.query_params.get("naar")
        gate = next((g for g in info["gates"] if g["to"] == wanted), None) \
            or next((g for g in info["gates"] if g["passed"]), None) or next(iter(info["gates"]), None)
        return render(request, "confirm.html.j2", status=errors.status_of(error) if error else 200,
                      kind=self.kind, key=key, criterion=criterion, info=info, error=error,
                      error_kind=_kind(error) if error else None, unmet=unmet,
                      values=defaultdict(str, {k: v for k, v in (form or {}).items()
                                               if k != identity.CSRF_FIELD and isinstance(v, str)}),
                      gate=gate, met={c["key"] for g in info["gates"] for c in g["criteria"] if c["met"]})

    def get(self, request: Request) -> Response:
        return self.show(request, identity.require_visitor(request))

    async def post(self, request: Request) -> Response:
        who = identity.require_visitor(request)
        form = await identity.checked_form(request)
        ref, key = request.path_params["ref"], request.path_params.get("key")
        app = _app(request)

        def write() -> Any:
            with identity.acting(request, who):
                return self.call(app, ref, key, form, who.email)

        try:
            result = await run_in_threadpool(write)
        except (errors.LoginRequired, errors.CsrfRefused):
            raise
        except WijkflowError as exc:
            return await run_in_threadpool(self.show, request, who, error=exc, form=form)
        slug = result.get("aanpak", ref) if isinstance(result, dict) else ref
        return RedirectResponse(f"/aanpak/{slug}?klaar={self.done}", status_code=303)


def _complete(app: App, ref: str, key: str | None, form: FormData, acting: str) -> Any:
    return services.complete(app, ref, key or "", evidence=_text(form, "evidence"), acting=acting)


def _approve(app: App, ref: str, key: str | None, form: FormData, acting: str) -> Any:
    return services.approve(app, ref, key or "", comment=_text(form, "comment"), acting=acting)


def _sign(app: App, ref: str, key: str | None, form: FormData, acting: str) -> Any:
    return services.approve(app, ref, key or "", party=_text(form, "party") or "", evidence=_text(form, "evidence"),
                            comment=_text(form, "comment"), acting=acting)


def _measure(app: App, ref: str, key: str | None, form: FormData, acting: str) -> Any:
    return services.measure(app, ref, _text(form, "indicator") or "", _text(form, "value") or "",
                            on=_text(form, "date"), source=_text(form, "source"), acting=acting)


def _advance(app: App, ref: str, key: str | None, form: FormData, acting: str) -> Any:
    return services.advance(app, ref, to=_text(form, "to"), reason=_text(form, "reason"), acting=acting)


FORMS = {
    "opleveren": Form("complete", "completed", _complete),
    "goedkeuren": Form("approve", "approved", _approve),
    "tekenen": Form("sign", "signed", _sign),
    "meten": Form("measure", "measured", _measure),
    "volgende-fase": Form("advance", "advanced", _advance),
}


# --- the portfolio ---


def portfolio_page(request: Request) -> Response:
    identity.require_visitor(request)
    q = request.query_params
    chosen = {k: (q.get(k) or "").strip() or None for k in ("phase", "wijk", "gemeente")}
    stalled = q.get("stalled") == "1"
    try:
        rows = services.list_aanpakken(_app(request), stalled=stalled, **chosen)
    except WijkflowError as exc:  # an unknown phase, wijk or gemeente: the service names the choices
        return render(request, "portfolio.html.j2", status=errors.status_of(exc), rows=[], chosen=chosen,
                      stalled=stalled, error=exc)
    return render(request, "portfolio.html.j2", rows=rows, chosen=chosen, stalled=stalled, error=None)


# --- the auditor's views ---

AUDIT_FILTERS = ("aanpak", "wijk", "gemeente", "phase", "actor", "type", "since", "until")


def _auditor(request: Request) -> Visitor:
    who = identity.require_visitor(request)
    if who.role not in ("auditor", "admin"):
        raise NotAllowed("Only auditors and administrators see the audit pages.")
    return who


def _audit_filters(request: Request) -> dict[str, Any]:
    q = request.query_params
    chosen = {k: (q.get(k) or "").strip() or None for k in AUDIT_FILTERS}
    kind = chosen.pop("type")
    return {**chosen, "types": (kind,) if kind else ()}


def audit_page(request: Request) -> Response:
    who = _auditor(request)
    from ..services.audit import query

    filters = _audit_filters(request)
    asked = any(request.query_params.get(k) for k in AUDIT_FILTERS)
    found: list[dict[str, Any]] = []
    error = None
    if asked:
        try:
            found = list(islice(query(_app(request), **filters), AUDIT_ROWS))
        except WijkflowError as exc:
            error = exc
    for e in found:
        e["what"] = events.describe({**e, "payload": {**e["payload"], "person": e["person"]}}, _lang(who),
                                    "sentence")
    return render(request, "audit.html.j2", status=errors.status_of(error) if error else 200, found=found,
                  asked=asked, error=error, values={k: request.query_params.get(k, "") for k in AUDIT_FILTERS},
                  limit=AUDIT_ROWS, query_string=request.url.query, event_types=sorted(events.EVENT_TYPES))


def audit_export(request: Request) -> Response:
    """`audit query --format csv` as a download: the same columns and cells, streamed from the database."""
    _auditor(request)
    # The same service, columns and cells as the CLI's, so the download is byte for byte what the CLI writes.
    from ..audit_columns import COLUMNS
    from ..services.audit_export import csv_chunks

    chunks = csv_chunks(_app(request), **_audit_filters(request))
    first = next(chunks, None)  # bad filters fail here, as a page, before any byte is sent

    def body() -> Iterator[str]:
        head = io.StringIO()
        csv.writer(head, lineterminator="\n").writerow(COLUMNS)
        yield head.getvalue()
        if first is not None:
            yield first[1]
            for _, text in chunks:
                yield text

    name = f"wijkflow-audit-{_today(request)}.csv"
    return StreamingResponse(body(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


def audit_bundle(request: Request) -> Response:
    """`audit export --bundle` as a download: the same bundle (events, proofs, signed checkpoint, key, verifier),
    zipped. Made in a temporary directory that is gone when the answer is."""
    _auditor(request)
    import tempfile
    import zipfile

    from ..services.audit_bundle import export_bundle

    with tempfile.TemporaryDirectory(prefix="wijkflow-bundle-") as tmp:
        root = f"{tmp}/wijkflow-audit"
        export_bundle(_app(request), root, **_audit_filters(request))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(Path(root).rglob("*")):
                if path.is_file():
                    z.write(path, str(path.relative_to(tmp)))
    name = f"wijkflow-audit-{_today(request)}.zip"
    return Response(buf.getvalue(), media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def audit_verify(request: Request) -> Response:
    _auditor(request)
    from ..services.audit import head, verify

    app = _app(request)
    result, failure = None, None
    try:
        result = verify(app)
    except AuditFailed as exc:
        failure = exc
    return render(request, "audit_verify.html.j2", result=result, failure=failure, head=head(app))


routes: list[BaseRoute] = [
    Route("/", tasks_page, name="tasks"),
    Route("/portefeuille", portfolio_page, name="portfolio"),
    Route("/audit", audit_page, name="audit"),
    Route("/audit/export.csv", audit_export, name="audit_export"),
    Route("/audit/bundel.zip", audit_bundle, name="audit_bundle"),
    Route("/audit/controle", audit_verify, name="audit_verify"),
    Route("/aanpak/{ref}", aanpak_page, name="aanpak"),
    *[r for path, form in FORMS.items() for r in (
        Route(f"/aanpak/{{ref}}/{path}" + ("" if form.kind in ("measure", "advance") else "/{key}"), form.get,
              methods=["GET"], name=f"{form.kind}_form"),
        Route(f"/aanpak/{{ref}}/{path}" + ("" if form.kind in ("measure", "advance") else "/{key}"), form.post,
              methods=["POST"], name=form.kind))],
    Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
]
