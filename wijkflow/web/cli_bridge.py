"""The CLI over HTTP: `wijkflow --server URL COMMAND ...` (cli/remote.py) runs its command here.

    POST /api/cli              {argv, files, width} with a bearer token -> {exit_code, stdout, stderr, files}
    POST /api/cli-login        a CLI starts `wijkflow login SERVER`: device code + user code to confirm
    POST /api/cli-login/poll   {device_code} -> pending | expired | approved with the token (once)
    POST /api/cli-logout       the bearer token revokes itself (`wijkflow logout`)

/api/cli runs the same click command tree as a local `wijkflow`, in this process, on the server's own
App acting as the token's person (`cli.serving`): no second implementation of any command, and the
same output, JSON and exit codes. What a command prints is captured per request: `sys.stdout` and
`sys.stderr` are replaced (once, checked per request) by streams that write into the buffers of
whichever request runs in the current context (a ContextVar), so requests in other threads neither
block on a lock nor see each other's output. click looks `sys.stdout` up at each `echo` and keeps it
as it is when it is a text stream with an encoding, so it writes there too. The answer is held in
memory until the command ends: at most MAX_OUTPUT of it, else it is refused whole.

Files: the parameters remote.FILE_ARGS names get a path in a private temporary directory, where the
client's file (or the state of its output path: missing, a file, a directory's entries) is set up
first; what a command wrote into an output path goes back to the client, and the temporary path in
the output is shown as the client typed it. Commands that work on the database or the machine
itself (remote.LOCAL_ONLY) are refused, so no client names a path on this server.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from .. import provenance
from ..app import App
from ..cli import cli, error_text, serving, wants_json
from ..cli.remote import MAX_UPLOAD, OUT, FileArg, file_args, local_only, resolve
from ..errors import InvalidInput, NotAllowed
from ..services import signin
from .errors import TooManyAttempts, json_error
from .identity import Visitor, acting, require_visitor

log = logging.getLogger(__name__)

# base64 grows the uploads by a third; the rest of the JSON is small.
MAX_BODY = MAX_UPLOAD * 4 // 3 + 1024 * 1024
MAX_ENTRIES = 10_000
# What one command may print through the server (characters, stdout and stderr together): the answer is held
# in memory until the command ends, so an unbounded `audit query` must not be able to fill the server's.
MAX_OUTPUT = 64 * 1024 * 1024
# What one command's output files may hold together (bytes; base64 in the answer): a bundle of every event is for
# the machine that holds the database.
MAX_FILES = 256 * 1024 * 1024

# --- output capture ---


class _Captured(io.StringIO):
    """One request's stdout or stderr; past the shared budget it keeps nothing more (and says so)."""

    def __init__(self, budget: list[int]) -> None:
        super().__init__()
        self.budget = budget
        self.overflowed = False

    def write(self, text: str) -> int:
        self.budget[0] -= len(text)
        if self.budget[0] < 0:
            self.overflowed = True
            return len(text)
        return super().write(text)


_CAPTURE: ContextVar[tuple[_Captured, _Captured] | None] = ContextVar("wijkflow_cli_capture", default=None)
_INSTALL = threading.Lock()


class _Routed:
    """sys.stdout / sys.stderr while the server runs: the current request's buffer, else the real stream."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, real: Any, which: int) -> None:
        self._real = real
        self._which = which

    def _target(self) -> Any:
        captured = _CAPTURE.get()
        return captured[self._which] if captured is not None else self._real

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            # click asks whether a stream takes bytes by writing b"": this one is a text stream.
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        return int(self._target().write(text))

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False if _CAPTURE.get() is not None else bool(self._real.isatty())

    def writable(self) -> bool:
        return True

    @property
    def buffer(self) -> Any:
        # click.echo writes bytes straight to a stream's buffer: while capturing there is none, so bytes
        # never reach the server's own stdout.
        if _CAPTURE.get() is not None:
            raise AttributeError("buffer")
        return self._real.buffer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _install_streams() -> None:
    # Checked per request, not once: a test runner (pytest's capture) swaps sys.stdout between tests.
    with _INSTALL:
        if not isinstance(sys.stdout, _Routed):
            sys.stdout = _Routed(sys.stdout, 0)
        if not isinstance(sys.stderr, _Routed):
            sys.stderr = _Routed(sys.stderr, 1)


# --- the acting App ---


def acting_app(app: App, email: str) -> App:
    """The served App as `email` sees it from the CLI: the same database, definitions and machines, with
    settings.user set to the token's person (what `--as` sets locally)."""
    app.db, app.registry, app.calendar  # noqa: B018 - built once on the served App, shared by every view
    view = copy.copy(app)
    view.settings = app.settings.model_copy(update={"user": email})
    return view


# --- files ---


def _safe_name(name: Any) -> str:
    text = str(name or "").replace("\\", "/").rsplit("/", 1)[-1]
    return text if text not in ("", ".", "..") and "\x00" not in text else "file"


def _set_up(slot: Path, arg: FileArg, state: dict[str, Any]) -> Path:
    """Recreate in `slot` what the client has at its path; the path the command gets instead."""
    slot.mkdir()
    base = slot if state.get("parent", True) else slot / "absent"
    path = base / _safe_name(state.get("name"))
    kind = state.get("kind")
    if not base.is_dir():
        return path  # the client's folder does not exist: neither does this one
    if kind == "file":
        path.write_bytes(base64.b64decode(str(state.get("content") or ""), validate=True))
    elif kind == "dir":
        path.mkdir()
        entries = state.get("entries") or []
        for entry in entries[:MAX_ENTRIES] if arg.direction == OUT else []:
            # An output directory that is not empty: the command sees what is there (names only, no content).
            if str(entry).endswith("/"):
                (path / _safe_name(str(entry).rstrip("/"))).mkdir(exist_ok=True)
            else:
                (path / _safe_name(entry)).touch()
    elif kind == "link" and arg.direction == OUT:
        path.symlink_to(slot / "nowhere")
    elif kind == "other" and arg.direction == OUT and hasattr(socket, "AF_UNIX"):
        # A device or pipe at the client's path: a socket file stands in for it, which the command refuses as it
        # would there (a FIFO would block a command that opened it for writing).
        with socket.socket(socket.AF_UNIX) as stand_in:
            stand_in.bind(str(path))
    return path


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = {}
    if path.is_file() and not path.is_symlink():
        st = path.stat()
        found[""] = (st.st_size, st.st_mtime_ns)
    elif path.is_dir() and not path.is_symlink():
        for f in sorted(path.rglob("*")):
            if f.is_file() and not f.is_symlink():
                st = f.stat()
                found[f.relative_to(path).as_posix()] = (st.st_size, st.st_mtime_ns)
    return found


def _written(index: int, path: Path, before: dict[str, tuple[int, int]], budget: list[int]) -> list[dict[str, Any]]:
    """What the command wrote at an output path: new or changed files, for the client to write (none past
    the budget: budget[0] goes below 0 then)."""
    sent = []
    for rel, stamp in _snapshot(path).items():
        if before.get(rel) != stamp:
            budget[0] -= stamp[0]
            if budget[0] < 0:
                return []
            data = (path / rel if rel else path).read_bytes()
            sent.append({"index": index, "path": rel, "content": base64.b64encode(data).decode("ascii")})
    return sent


# --- running a command ---


def _refuse_argv(argv: Any) -> list[str]:
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise InvalidInput("The request needs argv: the command and its arguments, as a list of strings.")
    if argv[0].startswith("-"):
        raise InvalidInput(f"{argv[0]} is not taken by the server; give the command and its own options "
                           "(the server acts as the token's person, on its own database and settings).")
    words, _cmd, _start = resolve(argv)
    why = local_only(words) if words else None
    if why is not None:
        raise InvalidInput(why)
    return argv


def run_command(app: App, who: Visitor, argv: list[str], files: dict[str, Any], width: int | None) -> dict[str, Any]:
    """Run argv as `wijkflow` would, as `who`; on a worker thread (the services are synchronous)."""
    _install_streams()
    words, cmd, start = resolve(argv)
    args = file_args(cmd, words, argv, start)
    budget = [MAX_OUTPUT]
    out, err = _Captured(budget), _Captured(budget)
    workdir = Path(tempfile.mkdtemp(prefix="wf-cli-")).resolve()
    sent: list[dict[str, Any]] = []
    try:
        argv = list(argv)
        shown: list[tuple[str, str]] = []
        outputs: list[tuple[int, Path, dict[str, tuple[int, int]]]] = []
        for arg in args:
            state = files.get(str(arg.index))
            try:
                path = _set_up(workdir / str(arg.index), arg, state if isinstance(state, dict) else {"kind": "missing"})
            except (ValueError, OSError) as exc:  # bad base64, a name the file system refuses
                raise InvalidInput(f"What was sent for {arg.value} cannot be used ({exc}).") from None
            argv[arg.index] = arg.prefix + str(path)
            shown.append((str(path), arg.value))
            shown.append((str(path.parent), os.path.dirname(arg.value.rstrip("/")) or "."))
            if arg.direction == OUT:
                outputs.append((arg.index, path, _snapshot(path)))
        token = _CAPTURE.set((out, err))
        try:
            with serving(acting_app(app, who.email)):
                code = _main(argv, width, err)
        finally:
            _CAPTURE.reset(token)
        room = [MAX_FILES]
        for index, path, before in outputs:
            sent.extend(_written(index, path, before, room))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if out.overflowed or err.overflowed or room[0] < 0:
        # Half an answer would look whole to a script: none, and why. (Commands with output files change nothing.)
        what, most = (("output is", MAX_OUTPUT) if out.overflowed or err.overflowed
                      else ("files written are", MAX_FILES))
        tell = InvalidInput(f"The {what} larger than the server sends ({most // (1024 * 1024)} MB); narrow "
                            "it (--aanpak, --since, ...) or run the command where the database is.")
        return {"exit_code": tell.exit_code, "stdout": "", "stderr": error_text(tell, wants_json(argv)) + "\n",
                "files": []}
    stdout, stderr = out.getvalue(), err.getvalue()
    for temp, typed in sorted(shown, key=lambda s: -len(s[0])):
        stdout, stderr = stdout.replace(temp, typed), stderr.replace(temp, typed)
    return {"exit_code": code, "stdout": stdout, "stderr": stderr, "files": sent}


def _main(argv: list[str], width: int | None, err: _Captured) -> int:
    extra: dict[str, Any] = {}
    if isinstance(width, int) and 20 <= width <= 1000:
        # Help text as click lays it out on the client's terminal (click.formatting.HelpFormatter without a width).
        extra["terminal_width"] = max(min(width, cli.context_settings.get("max_content_width") or 80) - 2, 50)
    try:
        cli.main(args=argv, prog_name="wijkflow", standalone_mode=True, **extra)
    except SystemExit as done:
        return done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except Exception as exc:  # noqa: BLE001 - as cli.main: a surprise is one line and exit 1; the log has the rest
        log.exception("wijkflow %s failed on the server", argv[0])
        err.write(f"Error: unexpected {type(exc).__name__}: {exc} (the server's log has the details).\n")
        return 1
    return 0


async def run(request: Request) -> Response:
    who = require_visitor(request)
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        return _too_large()
    chunks, size = [], 0
    async for chunk in request.stream():  # counted as it arrives: a body without a length cannot fill memory
        size += len(chunk)
        if size > MAX_BODY:
            return _too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidInput("The request is not JSON: {argv, files, width}.") from None
    if not isinstance(payload, dict):
        raise InvalidInput("The request is not JSON: {argv, files, width}.")
    argv = _refuse_argv(payload.get("argv"))
    files: dict[str, Any] = payload["files"] if isinstance(payload.get("files"), dict) else {}
    with acting(request, who):
        result = await run_in_threadpool(run_command, request.app.state.wijkflow, who, argv, files,
                                         payload.get("width"))
    # Security logging: who ran which command through the CLI (its arguments may hold personal data: not logged).
    log.info("cli %s by person %s: exit %s", " ".join(resolve(argv)[0]) or "?", who.person_id, result["exit_code"])
    return JSONResponse(result)


def _too_large() -> Response:
    return json_error(InvalidInput(f"The files sent exceed {MAX_UPLOAD // (1024 * 1024)} MB, what the server "
                                   "takes; run the command where the database is."), status=413)


# --- `wijkflow login` / `logout` ---


async def _json(request: Request) -> dict[str, Any]:
    body = await request.body()
    if len(body) > 10_000:
        raise InvalidInput("The request is too large.")
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        raise InvalidInput("The request is not JSON.") from None
    return data if isinstance(data, dict) else {}


def _throttle(request: Request) -> None:
    limiter = request.app.state.limiter
    if not limiter.hit(f"ip:{request.client.host if request.client else '?'}"):
        raise TooManyAttempts(minutes=limiter.minutes_left())


async def login_start(request: Request) -> Response:
    _throttle(request)
    data = await _json(request)
    host = str(data.get("host") or (request.client.host if request.client else "") or "?")
    started = await run_in_threadpool(signin.cli_login_start, request.app.state.wijkflow, host)
    return JSONResponse(started)


async def login_poll(request: Request) -> Response:
    data = await _json(request)
    # The poll that finds the code confirmed issues the token (token_created, in the person's name): made
    # through the server by a person who signed in to confirm it, so it counts as verified.
    with provenance.serving("api", "device", request.client.host if request.client else None):
        answer = await run_in_threadpool(signin.cli_login_poll, request.app.state.wijkflow,
                                         str(data.get("device_code") or ""))
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


async def logout(request: Request) -> Response:
    who = require_visitor(request)
    if who.token_id is None:
        raise NotAllowed("Only a bearer token signs itself out here.")
    with acting(request, who):
        await run_in_threadpool(signin.revoke_token, request.app.state.wijkflow, who.email, who.token_id)
    return JSONResponse({"revoked": who.token_id})


routes: list[BaseRoute] = [
    Route("/api/cli", run, methods=["POST"]),
    Route("/api/cli-login", login_start, methods=["POST"]),
    Route("/api/cli-login/poll", login_poll, methods=["POST"]),
    Route("/api/cli-logout", logout, methods=["POST"]),
]
