"""The verifiable log: the signing key, signed checkpoints, inclusion and consistency proofs.

The Merkle tree (merkle.py) is never stored: a root or a proof is one pass over the stored
leaf hashes in event order. A checkpoint is signed with the installation's Ed25519 key, a
file outside the database (settings.audit_key_file, mode 0600) made by `init`; the database
keeps its origin line and the public key (audit_log), and every checkpoint it signed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .. import checkpoint as notes
from .. import merkle, store
from ..app import App
from ..audit_format import utc_text
from ..errors import AuditFailed, DeliveryError, InvalidInput, NotFound, StorageError, shorten
from ..reminders.mailers import mailer_for

# --- the key -------------------------------------------------------------------------------------------


def _key_path(app: App) -> Path:
    return Path(app.settings.audit_key_file).expanduser()


def _load_key(path: Path) -> Ed25519PrivateKey | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"The audit signing key {shorten(str(path))} cannot be read: {exc.strerror}.") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise StorageError(f"{shorten(str(path))} is not an audit signing key (PEM, Ed25519).") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StorageError(f"{shorten(str(path))} is not an Ed25519 key.")
    return key


def _make_key(path: Path) -> Ed25519PrivateKey:
    """A new key, written readable by its owner only; if another process made it first, that one."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load_key(path) or key
    except OSError as exc:
        raise StorageError(f"Cannot make the audit signing key at {shorten(str(path))}: {exc.strerror}.") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key


def ensure_key(app: App) -> dict[str, Any]:
    """The signing key (made if missing) and this database's log identity (made if missing)."""
    path = _key_path(app)
    key = _load_key(path) or _make_key(path)
    with app.db.read() as conn:  # usually all is in place: nothing to write (a read-only database stays fine)
        log = store.audit_log(conn)
    if log is not None and log.public_key == notes.verifier_key(log.origin, key.public_key().public_bytes_raw()):
        return {"origin": log.origin, "key": log.public_key, "key_file": str(path)}
    with app.db.write() as conn:
        log = store.audit_log(conn)
        if log is None:
            origin = f"wijkflow/{secrets.token_hex(8)}"
            vkey = notes.verifier_key(origin, key.public_key().public_bytes_raw())
            store.insert_audit_log(conn, origin=origin, public_key=vkey, at=app.now())
        else:
            origin = log.origin
            vkey = notes.verifier_key(origin, key.public_key().public_bytes_raw())
            if log.public_key is None:
                store.set_log_key(conn, vkey)
            elif log.public_key != vkey:
                raise StorageError(f"The audit signing key at {shorten(str(path))} is not the key this database's "
                                   "checkpoints are signed with; restore the original key file (or point "
                                   "WIJKFLOW_AUDIT_KEY_FILE at it).")
    return {"origin": origin, "key": vkey, "key_file": str(path)}


def signing_key(app: App) -> Ed25519PrivateKey:
    """The private key (after ensure_key has made it)."""
    key = _load_key(_key_path(app))
    if key is None:
        raise StorageError(f"The audit signing key {shorten(str(_key_path(app)))} is missing; `wijkflow init` makes "
                           "a new one (checkpoints signed with the old key then no longer match it).")
    return key


def public_key(app: App) -> dict[str, Any]:
    """This log's verifier key as recorded in the database (made, with the key, if there is none yet)."""
    with app.db.read() as conn:
        log = store.audit_log(conn)
    if log is None or log.public_key is None:
        return ensure_key(app)
    return {"origin": log.origin, "key": log.public_key, "key_file": str(_key_path(app))}


def log_identity(conn: Any) -> tuple[str, str, bytes] | None:
    """(origin, key name, public key) of this database's log, or None before the first key."""
    log = store.audit_log(conn)
    if log is None or log.public_key is None:
        return None
    name, public = notes.parse_verifier_key(log.public_key)
    return log.origin, name, public


# --- checkpoints ------------------------------------------------------------------------------------------


def _leaves(conn: Any, size: int) -> Iterator[bytes]:
    for leaf in store.stream_leaves(conn, size):
        yield bytes.fromhex(leaf)


def tree_root(conn: Any, size: int) -> bytes:
    return merkle.root_of(_leaves(conn, size))


def make_checkpoint(app: App, *, unless_since: datetime | None = None) -> dict[str, Any]:
    """Sign and store a checkpoint of the whole log as it is now.

    `unless_since`: only if no checkpoint was made at or after that moment (decided inside the write
    transaction, so that several schedulers on one database make one); else {"made": False}.
    """
    key_info = ensure_key(app)
    key = signing_key(app)
    with app.db.write() as conn:
        if unless_since is not None:
            store.lock_checkpoints(conn)
            latest = store.latest_checkpoint(conn)
            if latest is not None and latest.at >= unless_since:
                return {"made": False, "id": latest.id, "size": latest.size, "note": latest.note}
        size = store.count_events(conn)
        root = tree_root(conn, size)
        now = app.now()
        note = notes.sign(key, key_info["origin"], key_info["origin"], size, root, utc_text(now))
        cid = store.insert_checkpoint(conn, size=size, root=root.hex(), at=now, note=note)
    return {"made": True, "id": cid, "size": size, "root": root.hex(), "at": utc_text(now),
            "origin": key_info["origin"], "note": note}


def periodic_checkpoint(app: App) -> dict[str, Any] | None:
    """The scheduler's checkpoint: one every `checkpoint_every_hours` (0: none), mailed to `checkpoint_mail_to`
    if set (through the configured mailer: SMTP, or .eml files in the outbox folder), so that a copy exists
    outside the database without anyone remembering to make one. None when none was due."""
    hours = app.settings.checkpoint_every_hours
    if not hours:
        return None
    made = make_checkpoint(app, unless_since=app.now() - timedelta(hours=hours))
    if not made["made"]:
        return None
    to = app.settings.checkpoint_mail_to
    made["mailed_to"] = None
    if to:
        msg = EmailMessage()
        msg["Subject"] = f"wijkflow audit checkpoint: {made['size']} events ({made['origin']})"
        msg["From"] = app.settings.mail_from
        msg["To"] = to
        msg["Message-ID"] = make_msgid(domain="wijkflow.invalid")
        msg.set_content("The signed checkpoint of the wijkflow audit log below. Keep this mail: an auditor can\n"
                        "later check that the history up to it was not changed (wijkflow audit verify --checkpoint,\n"
                        "or the verifier of an audit bundle).\n\n" + made["note"] + "\nPublic key: "
                        + public_key(app)["key"] + "\n")
        msg.add_attachment(made["note"].encode("utf-8"), maintype="text", subtype="plain",
                           filename=f"checkpoint-{made['size']}.txt")
        mailer = mailer_for(app.settings)
        try:
            mailer.send(msg, to)
            made["mailed_to"] = to
        except DeliveryError as exc:
            made["mail_error"] = str(exc)
        finally:
            mailer.close()
    return made


def check_note(conn: Any, note: str, what: str = "checkpoint") -> notes.Checkpoint:
    """A checkpoint this log signed, or AuditFailed (forged, another log) / InvalidInput (not a checkpoint)."""
    ident = log_identity(conn)
    if ident is None:
        raise NotFound("This database has no audit signing key yet, so it signed no checkpoint "
                       "(`wijkflow audit checkpoint` makes the first).")
    origin, name, public = ident
    try:
        parsed = notes.parse(note)
    except notes.BadCheckpoint as exc:
        raise InvalidInput(f"The {what} cannot be read: {exc}.") from None
    if parsed.origin != origin:
        raise AuditFailed(f"The {what} is from another log ({shorten(parsed.origin, 60)}), not this database's "
                          f"({origin}).")
    try:
        return notes.verify(note, name, public)
    except notes.BadCheckpoint as exc:
        raise AuditFailed(f"The {what} is not genuine: {exc}.") from None


def read_note(path: str, what: str = "checkpoint") -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The {what} file {shorten(path)} cannot be read: "
                           f"{getattr(exc, 'strerror', None) or exc}.") from None


# --- proofs -----------------------------------------------------------------------------------------------


def _covering_checkpoint(app: App, size: int) -> Any:
    """The latest checkpoint, made now if none covers the first `size` events yet."""
    with app.db.read() as conn:
        latest = store.latest_checkpoint(conn)
    if latest is None or latest.size < size:
        make_checkpoint(app)
        with app.db.read() as conn:
            latest = store.latest_checkpoint(conn)
    assert latest is not None
    if latest.size < size:
        raise AuditFailed(f"The checkpoint you kept covers {size} events, but only {latest.size} are left: events "
                          "were cut off the end.")
    return latest


def prove_inclusion(app: App, event_id: int) -> dict[str, Any]:
    """An inclusion proof of event `event_id` in the latest checkpoint."""
    with app.db.read() as conn:
        if store.event_by_id(conn, event_id) is None:
            raise NotFound(f"No audit event #{event_id}.")
    cp = _covering_checkpoint(app, event_id)
    with app.db.read() as conn:
        row = store.event_by_id(conn, event_id)
        assert row is not None
        ranges = merkle.inclusion_ranges(event_id - 1, cp.size)
        hashes = merkle.range_hashes(_leaves(conn, cp.size), ranges, cp.size)
    leaf = bytes.fromhex(row.leaf)
    if not merkle.verify_inclusion(event_id - 1, cp.size, leaf, hashes, bytes.fromhex(cp.root)):
        raise AuditFailed(f"Event #{event_id} is not in the latest checkpoint's tree: the stored leaves were "
                          "changed after it was signed (`wijkflow audit verify` says where).")
    return {"event": event_id, "leaf_index": event_id - 1, "leaf_hash": row.leaf, "tree_size": cp.size,
            "hashes": [h.hex() for h in hashes], "checkpoint": cp.note}


def prove_consistency(app: App, old_note: str) -> dict[str, Any]:
    """A proof that the latest checkpoint's log extends the one in `old_note` (a checkpoint kept earlier)."""
    with app.db.read() as conn:
        old = check_note(conn, old_note, "old checkpoint")
    cp = _covering_checkpoint(app, old.size)
    with app.db.read() as conn:
        hashes: list[bytes] = []
        if 0 < old.size < cp.size:
            hashes = merkle.range_hashes(_leaves(conn, cp.size), merkle.consistency_ranges(old.size, cp.size),
                                          cp.size)
    if old.size and not merkle.verify_consistency(old.size, cp.size, old.root, bytes.fromhex(cp.root), hashes):
        raise AuditFailed(f"This log does not extend the checkpoint you kept (tree size {old.size}): the history "
                          "up to it was rewritten after it was signed.")
    return {"old_size": old.size, "tree_size": cp.size, "hashes": [h.hex() for h in hashes],
            "old_checkpoint": old_note, "checkpoint": cp.note}

