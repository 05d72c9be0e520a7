#!/usr/bin/env python3
"""Check a wijkflow audit bundle without wijkflow (Python 3.9+, standard library only; format: the wijkflow
repository's docs/audit-format.md). python3 verify.py BUNDLE-DIR [--key KEY-FILE] [--consistency PROOF.json]
--key: the public key you received separately (`wijkflow audit key`; else the bundle's own key.txt, which proves
nothing against whoever made the bundle). --consistency: `wijkflow audit prove --from OLD-CHECKPOINT`'s output.
Checks each event's digests (content, origin), leaf and inclusion proof, the signed checkpoint and the signed
selection (nothing added or left out). Exit 0 when all holds, else 1 naming the problem. Ed25519 after RFC 8032."""
import argparse
import base64
import hashlib
import json
import sys
from pathlib import Path

P, L = 2 ** 255 - 19, 2 ** 252 + 27742317777372353535851937790883648493  # the field prime, the group order
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
COMMITTED = ("id", "at", "aanpak_id", "type", "actor_id", "from_phase", "to_phase", "reason_sha256",
             "evidence_sha256", "payload_sha256", "origin_sha256")  # origin_sha256: only when it has an origin

def _add(a, b):
    (x1, y1, z1, t1), (x2, y2, z2, t2) = a, b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * t1 * t2 * D % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % P, g * h % P, f * g % P, e * h % P

def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s:
        q, pt, s = (_add(q, pt) if s & 1 else q), _add(pt, pt), s >> 1
    return q

def _point(b):
    y = int.from_bytes(b, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    x = x if (x * x - x2) % P == 0 else x * SQRT_M1 % P
    if y >= P or (x * x - x2) % P or (x == 0 and sign):
        return None
    x = P - x if x & 1 != sign else x
    return x, y, 1, x * y % P

BASE = _point((4 * pow(5, P - 2, P) % P).to_bytes(32, "little"))

def ed25519_ok(pub, msg, sig):
    a, r, s = _point(pub), _point(sig[:32]), int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= L or len(sig) != 64:
        return False
    k = int.from_bytes(hashlib.sha512(sig[:32] + pub + msg).digest(), "little") % L
    lhs, rhs = _mul(s, BASE), _add(r, _mul(k, a))
    return (lhs[0] * rhs[2] - rhs[0] * lhs[2]) % P == 0 and (lhs[1] * rhs[2] - rhs[1] * lhs[2]) % P == 0

def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()

def _walk(fn, sn, fr, sr, proof):  # the loop RFC 9162 2.1.3.2 and 2.1.4.2 share (inclusion: sr only)
    for c in proof:
        if sn == 0:
            return None, None
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return (fr, sr) if sn == 0 else (None, None)

def included(index, size, leaf, proof, root):
    return 0 <= index < size and _walk(index, size - 1, leaf, leaf, proof)[1] == root

def consistent(m, n, old, new, proof):
    if m == n:
        return not proof and old == new
    if not 0 < m < n or not proof and m & (m - 1):
        return False
    path = ([old] if not m & (m - 1) else []) + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return _walk(fn, sn, path[0], path[0], path[1:]) == (old, new)

def note_lines(note, name, pub, what):
    """The body lines of a signed note, if it carries a good signature by (name, pub)."""
    text, _, sigs = note.partition("\n\n")
    if text.split("\n")[0] != name:
        fail(f"{what} is from another log ({text.split(chr(10))[0][:60]}), not {name}")
    kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
    for line in sigs.splitlines():
        parts = line.split(" ")
        if len(parts) == 3 and parts[0] == "\u2014" and parts[1] == name:
            raw = base64.b64decode(parts[2])
            if raw[:4] == kid and ed25519_ok(pub, (text + "\n").encode(), raw[4:]):
                return text.split("\n")
    fail(f"{what} is not signed by the key {name}: forged, altered, or from another log")

def fail(message):
    sys.exit(print(f"FAILED: {message}.") or 1)

def main():
    ap = argparse.ArgumentParser(description="Check a wijkflow audit bundle.")
    for option in ("bundle", "--key", "--consistency"):
        ap.add_argument(option, type=Path)
    args = ap.parse_args()
    name, kid, b64 = (args.key or args.bundle / "key.txt").read_text().strip().split("+", 2)
    pub = base64.b64decode(b64)[1:]  # after the key type byte 0x01 (Ed25519)
    cp = note_lines((args.bundle / "checkpoint.txt").read_text(), name, pub, "The checkpoint")
    size, root = int(cp[1]), base64.b64decode(cp[2])
    sel = note_lines((args.bundle / "selection.txt").read_text(), name, pub, "The selection")
    if sel[0] != cp[0] or int(sel[2]) != size:
        fail("The selection belongs to another checkpoint")
    wanted = {i for part in filter(None, sel[5][4:].split(",")) for lo, _, hi in [part.partition("-")]
              for i in range(int(lo), int(hi or lo) + 1)}
    proofs = {p["id"]: [bytes.fromhex(h) for h in p["hashes"]]
              for p in map(json.loads, (args.bundle / "proofs.jsonl").read_text().splitlines())}
    seen = set()
    for line in (args.bundle / "events.jsonl").read_text(encoding="utf-8").splitlines():
        e = json.loads(line)
        eid = e.get("id")
        if eid not in wanted or eid in seen:
            fail(f"Event #{eid} was added: the signed selection does not list it (or lists it once)")
        seen.add(eid)
        for field in ("reason", "evidence", "payload", "origin"):
            if field in e and hashlib.sha256(e[field].encode()).hexdigest() != e[field + "_sha256"]:
                fail(f"Event #{eid} was edited: its {field} does not match its digest")
        body = json.dumps({k: e[k] for k in COMMITTED if k in e or k != "origin_sha256"}, sort_keys=True,
                          separators=(",", ":"), ensure_ascii=False)
        leaf = hashlib.sha256(b"\x00" + body.encode()).digest()
        if not isinstance(eid, int) or not included(eid - 1, size, leaf, proofs.get(eid, []), root):
            fail(f"Event #{eid} was edited or does not belong to this log: its inclusion proof does not verify")
    if wanted - seen:
        fail(f"Event #{min(wanted - seen)} was removed from the bundle: the signed selection lists it")
    print(f"OK: {len(seen)} events of {cp[0]} are in its signed checkpoint of {size} events (key {name}+{kid}).")
    if args.consistency:
        c = json.loads(args.consistency.read_text())
        old = note_lines(c["old_checkpoint"], name, pub, "The older checkpoint")
        new = note_lines(c["checkpoint"], name, pub, "The newer checkpoint")
        if not consistent(int(old[1]), int(new[1]), base64.b64decode(old[2]), base64.b64decode(new[2]),
                          [bytes.fromhex(h) for h in c["hashes"]]):
            fail(f"The log of {new[1]} events does not extend the older checkpoint of {old[1]}: history rewritten")
        print(f"OK: the log of {new[1]} events extends the older checkpoint of {old[1]} events.")

if __name__ == "__main__":
    try:
        main()
    except (OSError, ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        fail(f"The bundle cannot be read ({type(exc).__name__}: {exc})")
