"""Signed checkpoints: the C2SP tlog-checkpoint body in a C2SP signed note, signed with Ed25519.

    <origin>\\n<tree size>\\n<base64 root hash>\\ntime <UTC moment>\\n
    \\n
    — <key name> <base64(key id (4 bytes) || Ed25519 signature (64 bytes))>\\n

The signature covers the body (every line up to and including the one before the blank line,
with its newline). Key id: the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key).
The public key is written as a note verifier key: `<name>+<key id hex>+<base64(0x01 || public key)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014"


class BadCheckpoint(ValueError):
    """Not a checkpoint this log signed (malformed, another key, or a forged signature)."""


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    encoded = base64.b64encode(b"\x01" + public).decode()
    return f"{name}+{key_id(name, public).hex()}+{encoded}"


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """(name, 32-byte public key) from `name+keyid+base64`."""
    try:
        name, kid, b64 = text.strip().split("+", 2)  # the name has no "+"; base64 may
        raw = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise BadCheckpoint("not a verifier key (name+keyid+base64)") from None
    if len(raw) != 33 or raw[0] != 1 or key_id(name, raw[1:]).hex() != kid:
        raise BadCheckpoint("not an Ed25519 verifier key, or its key id does not match")
    return name, raw[1:]


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    time: str
    text: str  # the whole signed note


def body(origin: str, size: int, root: bytes, time: str) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\ntime {time}\n"


def sign(private: Ed25519PrivateKey, name: str, origin: str, size: int, root: bytes, time: str) -> str:
    return sign_text(private, name, body(origin, size, root, time))


def sign_text(private: Ed25519PrivateKey, name: str, text: str) -> str:
    """A signed note of `text` (lines, each ending in a newline)."""
    public = private.public_key().public_bytes_raw()
    sig = base64.b64encode(key_id(name, public) + private.sign(text.encode())).decode()
    return f"{text}\n{DASH} {name} {sig}\n"


def parse(note: str) -> Checkpoint:
    """The checkpoint in a note, unverified (BadCheckpoint if it is not one)."""
    text, sep, _ = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) < 3:
        raise BadCheckpoint("not a signed checkpoint (origin, size, root hash, a blank line, a signature)")
    try:
        size = int(lines[1])
        root = base64.b64decode(lines[2], validate=True)
    except (ValueError, binascii.Error):
        raise BadCheckpoint("its size or root hash cannot be read") from None
    if size < 0 or len(root) != 32 or not lines[1].isdigit():
        raise BadCheckpoint("its size or root hash cannot be read")
    time = next((line[5:] for line in lines[3:] if line.startswith("time ")), "")
    return Checkpoint(lines[0], size, root, time, note)


def verify(note: str, name: str, public: bytes) -> Checkpoint:
    """The checkpoint, if `note` carries a valid signature by (name, public); else BadCheckpoint."""
    cp = parse(note)
    text, _, sigs = note.partition("\n\n")
    want = key_id(name, public)
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or parts[1] != name:
            continue
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            continue
        if raw[:4] != want or len(raw) != 68:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (text + "\n").encode())
        except InvalidSignature:
            raise BadCheckpoint("its signature does not verify: it was altered or forged") from None
        return cp
    raise BadCheckpoint("it is not signed by this log's key")
