"""`wijkflow --server URL COMMAND ...`: the command runs on a wijkflow server, as the token's person.

The client sends the command line to `POST /api/cli` (web/cli_bridge.py), which runs the same click
command tree on the server and answers with its stdout, stderr and exit code; printed here as they
came, so scripts see what a local run shows. Files travel with the command: an input file's content
goes up, an output file (`report --html`, `export --zgw-zaak DIR`, ...) comes back and is written
where the command line said. `FILE_ARGS` names those parameters; the server uses the same table, so
it never opens one of its own files by a path a client gave.

Start-up time is the point of this module (issue 18: within 3x `python -c "import click"`): it runs
before any command body, imports only the standard library and what `wijkflow --help` loads, and
speaks HTTP/1.1 over a socket itself, since `http.client` alone (the email package) costs a third
of the budget. Behind a proxy (`HTTPS_PROXY` ...) it uses `urllib.request`, which knows proxies.
"""

from __future__ import annotations

import base64
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import click

from ..errors import InvalidInput, NotAllowed, WijkflowError

MAX_UPLOAD = 20 * 1024 * 1024
OUT_HEAD = 1024 * 1024
CONNECT_TIMEOUT = 15.0
# A bulk import or a bundle export may take minutes on the server; the answer comes when it is done.
READ_TIMEOUT = 900.0

IN, OUT, IN_IF_PATH = "in", "out", "in-if-path"

# Every parameter that names a file or directory: the client sends what is there, the server puts
# it in a private directory and passes that path instead. `in-if-path`: a workflow NAME or a YAML
# file, told apart as definitions.Registry.get does (ends in .yaml/.yml or holds a /): every
# parameter that reaches Registry.get or load_file is one.
FILE_ARGS: dict[str, dict[str, str]] = {
    "import": {"file": IN},
    "measure import": {"file": IN},
    "workflows validate": {"path": IN},
    "new": {"workflow": IN_IF_PATH},
    "migrate": {"workflow": IN_IF_PATH},
    "workflows show": {"name": IN_IF_PATH},
    "audit verify": {"checkpoint_file": IN},
    "audit prove": {"old_file": IN},
    "report": {"html": OUT},
    "audit export": {"bundle": OUT},
    "export": {"directory": OUT},
    "workflows export": {"name": IN_IF_PATH, "directory": OUT},
}

# Commands that work on the database, the settings or the machine themselves: they run where the
# database is. The first word is enough for groups that are local as a whole.
LOCAL_ONLY: dict[str, str] = {
    "init": "creates or upgrades the database itself",
    "demo": "runs on its own throw-away database",
    "db": "works on the database itself",
    "serve": "is the server itself",
    "scheduler": "is the server's own daemon",
    "config": "shows the settings of the machine it runs on",
    "info": "shows the settings of the machine it runs on",
    "login": "keeps this computer's sign-in",
    "logout": "keeps this computer's sign-in",
}
# Local even in remote mode: they talk to the server themselves.
CLIENT_SIDE = ("login", "logout")

REFUSED_OPTIONS = {
    "--as": "--as is refused with --server: the server acts as the person the token belongs to "
            "(sign in as someone else with `wijkflow login`).",
    "--db": "--db is refused with --server: the server uses its own database.",
    "--config": "--config is refused with --server: the server uses its own settings.",
}


@dataclass(frozen=True)
class FileArg:
    """A file parameter's value in the argv sent: argv[index] is `prefix + value`."""

    index: int
    prefix: str
    value: str
    direction: str  # IN or OUT
    param: str  # the click parameter's name


@dataclass
class Invocation:
    server: str
    words: list[str]  # the command's path: ["audit", "export"]
    argv: list[str]  # what the server runs: words + the command's own arguments
    files: list[FileArg] = field(default_factory=list)


def resolve(argv: list[str], start: int = 0) -> tuple[list[str], click.Command, int]:
    """The command path argv[start:] names, the command, and where its own arguments begin."""
    from . import cli

    cmd: click.Command = cli
    words: list[str] = []
    i = start
    while isinstance(cmd, click.Group) and i < len(argv):
        # The group's own resolve_command: `measure REF KEY VALUE` is a command of the group `measure`.
        try:
            _name, sub, rest = cmd.resolve_command(click.Context(cmd, resilient_parsing=True), argv[i:])
        except click.UsageError:
            break
        if sub is None:
            break
        consumed = len(argv) - i - len(rest)
        words.extend(argv[i:i + consumed])
        i += consumed
        cmd = sub
    return words, cmd, i


def local_only(words: list[str]) -> str | None:
    """Why the command cannot run through a server (one sentence), or None when it can."""
    name = " ".join(words)
    why = (LOCAL_ONLY.get(name) or LOCAL_ONLY.get(words[0])) if words else None
    if why is None:
        return None
    return f"`wijkflow {name}` {why}, so it runs only where the database is, not through --server."


def file_args(cmd: click.Command, words: list[str], argv: list[str], start: int) -> list[FileArg]:
    """The file parameters among argv[start:] (the arguments of `cmd`), scanned as click parses them."""
    kinds = FILE_ARGS.get(" ".join(words), {})
    if not kinds:
        return []
    options: dict[str, click.Option] = {}
    for p in cmd.params:
        if isinstance(p, click.Option):
            for opt in (*p.opts, *p.secondary_opts):
                options[opt] = p
    arguments = [p for p in cmd.params if isinstance(p, click.Argument)]
    found: list[FileArg] = []

    def note(param: click.Parameter, index: int, prefix: str, value: str) -> None:
        kind = kinds.get(param.name or "")
        if kind == IN_IF_PATH:
            kind = IN if value.endswith((".yaml", ".yml")) or "/" in value else None
        if kind is not None:
            found.append(FileArg(index, prefix, value, kind, param.name or ""))

    positional = 0
    only_positional = False
    i = start
    while i < len(argv):
        tok = argv[i]
        if not only_positional and tok == "--":
            only_positional = True
            i += 1
            continue
        if not only_positional and tok.startswith("-") and tok != "-":
            name, eq, inline = tok.partition("=")
            if eq and tok.startswith("--") and name in options:
                note(options[name], i, name + "=", inline)
                i += 1
                continue
            option = options.get(tok)
            if option is None or option.is_flag or option.count:
                i += 1
                continue
            for k in range(option.nargs):
                if i + 1 + k < len(argv) and option.nargs == 1:
                    note(option, i + 1 + k, "", argv[i + 1 + k])
            i += 1 + option.nargs
            continue
        if positional < len(arguments):
            argument = arguments[positional]
            note(argument, i, "", tok)
            if argument.nargs == 1:
                positional += 1
        i += 1
    return found


def parse(argv: list[str], env: dict[str, str] | os._Environ[str] = os.environ) -> Invocation | None:
    """What to send, or None when the command line runs here (no server, help, login, no command).

    Raises InvalidInput/NotAllowed for what is refused with a server (`--as`, `--db`, `--config`,
    commands that work on the database itself).
    """
    from . import cli

    takes_value = {o for p in cli.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts}
    server = None
    refused: list[str] = []
    i = 0
    while i < len(argv) and argv[i].startswith("-") and argv[i] not in ("-", "--"):
        name, eq, inline = argv[i].partition("=")
        if eq and name in takes_value:
            value: str | None = inline
            i += 1
        elif argv[i] in takes_value:
            value = argv[i + 1] if i + 1 < len(argv) else None
            i += 2
        else:
            if argv[i] in ("-h", "--help", "--version"):
                return None  # the group's help and version need no server
            value = None
            i += 1
        if name == "--server":
            if value is None:
                return None  # click says what is missing
            server = value
        elif name in REFUSED_OPTIONS:
            refused.append(name)
    server = server or env.get("WIJKFLOW_SERVER") or None
    if server is None:
        return None
    if i < len(argv) and argv[i] == "--":
        i += 1  # as click reads it: the end of the group's options
    words, cmd, start = resolve(argv, i)
    if not words or words[0] in CLIENT_SIDE:
        return None  # click's own error for an unknown command; login/logout talk to the server themselves
    # Everything else goes to the server, a command's --help too: nothing runs here by mistake.
    why = local_only(words)
    if why is not None:
        raise InvalidInput(why)
    for name in refused:
        raise (NotAllowed if name == "--as" else InvalidInput)(REFUSED_OPTIONS[name])
    sent = [*words, *argv[start:]]
    return Invocation(server=server_url(server), words=words, argv=sent,
                      files=file_args(cmd, words, sent, len(words)))


def server_url(text: str) -> str:
    """The server's base URL as credentials are keyed: scheme and host in lower case, no trailing /."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"A server is an http:// or https:// address, such as https://wijkflow.gemeente.nl; "
                           f"'{text}' is not.")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


# --- credentials -----------------------------------------------------------------------------


def credentials_path() -> str:
    """The file `wijkflow login` writes: credentials.json in the user config directory."""
    if sys.platform.startswith("linux"):
        # platformdirs' answer on Linux, without importing it (start-up time): $XDG_CONFIG_HOME or ~/.config.
        base = os.environ.get("XDG_CONFIG_HOME", "").strip() or os.path.expanduser("~/.config")
        return os.path.join(base, "wijkflow", "credentials.json")
    import platformdirs

    return os.path.join(platformdirs.user_config_dir("wijkflow", appauthor=False), "credentials.json")


def read_credentials(*, strict: bool = True) -> dict[str, Any]:
    """{"servers": {URL: {"token", "email", "saved"}}}; refused when others may read the file, unless not
    `strict` (login and logout, which write it back with mode 0600)."""
    path = credentials_path()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return {"servers": {}}
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(f.fileno()).st_mode
        if strict and os.name == "posix" and mode & 0o077:
            raise NotAllowed(f"{path} can be read by others (mode {mode & 0o777:o}): wijkflow does not use a "
                             f"token others could copy; run `chmod 600 {path}` or sign in again.")
        try:
            data = json.loads(f.read().decode("utf-8"))
        except ValueError:
            raise InvalidInput(f"{path} is not the JSON file `wijkflow login` writes; sign in again.") from None
    if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
        raise InvalidInput(f"{path} is not the JSON file `wijkflow login` writes; sign in again.")
    return data


def write_credentials(data: dict[str, Any]) -> str:
    """Write the file atomically, mode 0600 from the start (never readable by others, not even briefly)."""
    path = credentials_path()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
            f.write("\n")
        os.chmod(tmp, 0o600)  # the umask may have narrowed it further; never wider
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def token_for(server: str) -> str:
    """WIJKFLOW_TOKEN, else the token `wijkflow login SERVER` stored."""
    token = os.environ.get("WIJKFLOW_TOKEN", "").strip()
    if token:
        return token
    entry = read_credentials()["servers"].get(server)
    if not entry or not entry.get("token"):
        raise NotAllowed(f"You are not signed in to {server}: run `wijkflow login {server}` "
                         "(or set WIJKFLOW_TOKEN).")
    return str(entry["token"])


# --- HTTP ------------------------------------------------------------------------------------


def _proxied(scheme: str) -> bool:
    names = {f"{scheme}_proxy", "all_proxy"}
    return any(k.lower() in names and v for k, v in os.environ.items())


def call(server: str, method: str, path: str, payload: Any = None, token: str | None = None) -> tuple[int, Any]:
    """(status, JSON answer) of one request; WijkflowError (exit 1) when the server cannot be reached."""
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {"Accept": "application/json", "User-Agent": "wijkflow-cli"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    parts = urlsplit(server)
    try:
        if _proxied(parts.scheme):
            status, raw, moved = _urllib(server + path, method, body if payload is not None else None, headers)
        else:
            status, raw, moved = _socket(server, method, path, body, headers)
    except OSError as exc:
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise WijkflowError(f"Cannot reach the wijkflow server at {server} ({reason}); check the address "
                            "and that the server runs.") from None
    if 300 <= status < 400 and moved:
        # Typically http:// answered with a redirect to https://: name the address to use instead.
        there = moved[:-len(path)] if moved.endswith(path) else moved
        raise InvalidInput(f"The server at {server} sends requests on to {there}; use that address "
                           f"(`wijkflow login {there}`).")
    try:
        answer = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        answer = None
    return status, answer


def _socket(server: str, method: str, path: str, body: bytes,
            headers: dict[str, str]) -> tuple[int, bytes, str | None]:
    import socket

    parts = urlsplit(server)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    sock = socket.create_connection((host, parts.port or (443 if https else 80)), timeout=CONNECT_TIMEOUT)
    try:
        if https:
            import ssl

            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        sock.settimeout(READ_TIMEOUT)
        hostport = parts.netloc.rpartition("@")[2]
        lines = [f"{method} {parts.path}{path} HTTP/1.1", f"Host: {hostport}", "Connection: close",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items())]
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        chunks: list[bytes] = []
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                if chunks and https:
                    break  # a TLS peer that closes without close_notify, after the whole answer
                raise
            if not data:
                break
            chunks.append(data)
    finally:
        sock.close()
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    try:
        status = int(status_line.split()[1])
    except (IndexError, ValueError):
        raise OSError(f"not an HTTP answer: {status_line[:60]!r}") from None
    fields = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        rest = _dechunk(rest)
    elif "content-length" in fields:
        rest = rest[:int(fields["content-length"])]
    return status, rest, fields.get("location")


def _dechunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(data[:size])
        data = data[size + 2:]
    return b"".join(out)


def _urllib(url: str, method: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes, str | None]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=READ_TIMEOUT) as r:
            return r.status, r.read(), None
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers.get("location")


def refused_sign_in(server: str) -> NotAllowed:
    return NotAllowed(f"The server at {server} did not accept your token (expired, revoked or unknown); "
                      f"sign in again with `wijkflow login {server}`.")


def answer_error(server: str, status: int, answer: Any) -> WijkflowError:
    """The error a non-200 answer stands for: the server's own sentence and exit code when it sent one."""
    if status == 401:
        return refused_sign_in(server)
    if isinstance(answer, dict) and isinstance(answer.get("error"), str):
        exc = WijkflowError(answer["error"], details=[str(d) for d in answer.get("details") or []])
        exc.exit_code = int(answer.get("exit_code") or 1)
        return exc
    if status in (404, 405):
        return WijkflowError(f"{server} does not answer as a wijkflow server (HTTP {status}); check the address "
                             "(the one people open in the browser).")
    return WijkflowError(f"The server at {server} answered HTTP {status}; try again later or ask its "
                         "administrator.")


# --- files ----------------------------------------------------------------------------------


def describe(arg: FileArg) -> dict[str, Any]:
    """What is at the path on this computer, for the server to set up the same in its private directory."""
    path = os.path.expanduser(arg.value)
    parent = os.path.dirname(os.path.abspath(path))
    state: dict[str, Any] = {"name": os.path.basename(arg.value.rstrip("/")) or "file",
                             "parent": os.path.isdir(parent)}
    if arg.direction == OUT and os.path.islink(path):
        state["kind"] = "link"
    elif os.path.isdir(path):
        state["kind"] = "dir"
        # An output directory's top level, directories marked with a trailing /: the command sees what is there.
        state["entries"] = sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(path))[:10_000] \
            if arg.direction == OUT else []
    elif os.path.isfile(path):
        size = os.path.getsize(path)
        if size > MAX_UPLOAD and arg.direction == IN:
            raise InvalidInput(f"{arg.value} is {size / 1e6:.1f} MB; the server takes files up to "
                               f"{MAX_UPLOAD // (1024 * 1024)} MB (run the command where the database is).")
        with open(path, "rb") as f:
            state["kind"] = "file"
            # A file about to be replaced: its start is enough for the command to tell whether it is an earlier
            # file of its own (outputs.is_report reads a marker near the start); the rest never matters.
            data = f.read() if arg.direction == IN else f.read(OUT_HEAD)
            state["content"] = base64.b64encode(data).decode("ascii")
    elif os.path.exists(path):
        state["kind"] = "other"
    else:
        state["kind"] = "missing"
    return state


def write_outputs(inv: Invocation, sent: list[dict[str, Any]]) -> None:
    """Write what the server sent back where the command line said, each file atomically."""
    by_index = {a.index: a for a in inv.files if a.direction == OUT}
    for item in sent:
        arg = by_index.get(int(item.get("index", -1)))
        if arg is None:
            continue
        rel = str(item.get("path") or "")
        target = os.path.expanduser(arg.value)
        if rel:
            parts = rel.split("/")
            if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
                continue  # never outside the directory the user named
            target = os.path.join(target, *parts)
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        tmp = os.path.join(os.path.dirname(os.path.abspath(target)), f".{os.path.basename(target)}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            f.write(base64.b64decode(item.get("content") or ""))
        os.replace(tmp, target)


# --- the run ---------------------------------------------------------------------------------


def run_remote(argv: list[str]) -> int | None:
    """Run argv on the server; the exit code, or None when the command line runs locally after all."""
    from . import error_text, wants_json

    try:
        inv = parse(argv)
        if inv is None:
            return None
        token = token_for(inv.server)
        import shutil

        states = {str(a.index): describe(a) for a in inv.files}
        if sum(len(s.get("content", "")) for s in states.values()) * 3 // 4 > MAX_UPLOAD:
            raise InvalidInput(f"The files together exceed {MAX_UPLOAD // (1024 * 1024)} MB, what the server "
                               "takes; run the command where the database is.")
        payload = {"argv": inv.argv, "files": states, "width": shutil.get_terminal_size().columns}
        status, answer = call(inv.server, "POST", "/api/cli", payload, token)
        if status != 200 or not isinstance(answer, dict) or "exit_code" not in answer:
            raise answer_error(inv.server, status, answer)
        write_outputs(inv, answer.get("files") or [])
    except WijkflowError as exc:
        click.echo(error_text(exc, wants_json(argv)), err=True)
        return exc.exit_code
    for stream, text in ((sys.stdout, answer.get("stdout") or ""), (sys.stderr, answer.get("stderr") or "")):
        if text:
            stream.write(text)
            stream.flush()
    return int(answer["exit_code"])
