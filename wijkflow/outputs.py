"""Files wijkflow writes where a person told it to (`report --html`, `demo --keep`): checked here.

Every command that writes a file at a path given on the command line goes through
`check_output` before it does any work and `write_atomic` to write. A path is refused
(InvalidInput, exit 2: one sentence, nothing written, the database untouched) when it is

- the open SQLite database, or its -wal, -shm or -journal companion (compared as resolved
  paths and, for files that exist, by inode, so a link or a second name does not hide it);
- a symbolic link, wherever it points (give the real path);
- something that exists and is not a regular file: a directory, a device such as /dev/full,
  a FIFO or a socket;
- an existing regular file that wijkflow did not write (for a report: no
  `<meta name="generator" content="wijkflow">` at its start), unless `force`;
- a name longer than 255 bytes, or in a directory that does not exist.

The write is all or nothing: the bytes go to a temporary file in the same directory, which is
then renamed over the target, so the page appears complete or not at all.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .errors import InvalidInput, StorageError, shorten

MAX_NAME_BYTES = 255  # what Linux, macOS and Windows file systems allow for one name
DATABASE_COMPANIONS = ("", "-wal", "-shm", "-journal")
# Every HTML report carries this (templates/_base.html.j2); a file that starts without it is not ours.
REPORT_MARKER = b'<meta name="generator" content="wijkflow">'
_MARKER_WINDOW = 4096


def shown(path: Path | str) -> str:
    """A path as it may appear in a one-sentence message (short, and printable whatever its bytes)."""
    text = str(path).encode("utf-8", "backslashreplace").decode("utf-8")
    return shorten(text, 120)


def is_report(path: Path) -> bool:
    """Whether the regular file at `path` is a page wijkflow wrote (its marker near the start)."""
    try:
        with path.open("rb") as fh:
            return REPORT_MARKER in fh.read(_MARKER_WINDOW)
    except OSError:
        return False


def check_output(path: str | Path, *, database: Path | None, ours: Callable[[Path], bool] | None = is_report,
                 force: bool = False, kind: str = "report") -> Path:
    """The target for a file about to be written at `path`, or InvalidInput saying why not.

    `database` is the open SQLite file (None for PostgreSQL); `ours` tells an earlier file of
    this kind that may be replaced without `force` (None: none is); `kind` names it in messages.
    """
    if not str(path):
        raise InvalidInput(f"Give a file name for the {kind}, such as report.html.")
    target = Path(path).expanduser()
    name = target.name
    if not name or name in (".", ".."):
        raise InvalidInput(f"{shown(path)} is a directory; give a file name such as report.html.")
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        raise InvalidInput(f"The file name {shown(name)} is longer than {MAX_NAME_BYTES} bytes; "
                           "choose a shorter name.")
    try:
        st: os.stat_result | None = target.lstat()
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise InvalidInput(f"{shown(target.parent)} is not a directory; nothing was written.") from None
    except OSError as exc:
        raise InvalidInput(f"{shown(target)} cannot be used: {exc.strerror or exc}.") from None
    if database is not None and _is_database(target, st, database):
        raise InvalidInput(f"{shown(target)} is wijkflow's database (or its journal); "
                           f"choose another name for the {kind}.")
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise InvalidInput(f"{shown(target)} is a symbolic link; wijkflow does not write through links: "
                               "give the real path.")
        if stat.S_ISDIR(st.st_mode):
            raise InvalidInput(f"{shown(target)} is a directory; give a file name such as report.html.")
        if not stat.S_ISREG(st.st_mode):
            raise InvalidInput(f"{shown(target)} is not a regular file (a device, pipe or socket); "
                               f"wijkflow writes a {kind} only to a new file or over an earlier one.")
        if not force and ours is None:
            raise InvalidInput(f"{shown(target)} already exists; give --force to replace it, or choose another "
                               "name.")
        if not force and ours is not None and not ours(target):
            raise InvalidInput(f"{shown(target)} already exists and is not a wijkflow {kind}; give --force to "
                               "replace it, or choose another name.")
    elif not target.parent.is_dir():
        raise InvalidInput(f"The directory {shown(target.parent)} does not exist; nothing was written.")
    return target


def _is_database(target: Path, st: os.stat_result | None, database: Path) -> bool:
    try:
        where = target.resolve()
        db = database.resolve()
    except (OSError, RuntimeError):  # a loop of links: not the database, and refused as a link anyway
        return False
    for suffix in DATABASE_COMPANIONS:
        companion = db.with_name(db.name + suffix)
        if where == companion:
            return True
        if st is not None:
            try:
                if os.path.samefile(target, companion):
                    return True
            except OSError:
                continue
    return False


def write_atomic(target: Path, data: bytes, *, database: Path | None,
                 ours: Callable[[Path], bool] | None = is_report, force: bool = False,
                 kind: str = "report") -> dict[str, Any]:
    """Check `target` again (it may have changed while the page was built), then write it all or nothing."""
    target = check_output(target, database=database, ours=ours, force=force, kind=kind)
    replace_with(target, [data], prefix=".wijkflow-report-")
    return {"path": str(target), "bytes": len(data)}


def replace_with(target: Path, chunks: Iterable[bytes], *, prefix: str) -> None:
    """All or nothing: the chunks go to a temporary file in the target's directory, renamed over the target
    at the end (a crash or a full disk leaves the target as it was, and no temporary file behind)."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise StorageError(f"Cannot write {shown(target)}: {exc.strerror or exc}.") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
