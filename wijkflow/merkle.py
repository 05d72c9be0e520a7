"""A Merkle tree over the audit events, hashed as RFC 9162 (Certificate Transparency v2) does.

Leaf hash: SHA-256(0x00 || leaf bytes); node hash: SHA-256(0x01 || left || right); a tree of
n leaves splits at the largest power of two below n. The tree is never stored: its root and
any proof come from one pass over the stored leaf hashes in event order, keeping at most one
hash per level (constant memory: ~log2(n) hashes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class TreeHasher:
    """The root of a growing tree, one leaf hash at a time: the stack holds perfect subtrees."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[bytes] = []

    def add(self, leaf: bytes) -> None:
        self.stack.append(leaf)
        self.size += 1
        n = self.size
        while not n & 1:
            right = self.stack.pop()
            self.stack.append(node_hash(self.stack.pop(), right))
            n >>= 1

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        root = self.stack[-1]
        for left in reversed(self.stack[:-1]):
            root = node_hash(left, root)
        return root


def root_of(leaves: Iterable[bytes]) -> bytes:
    tree = TreeHasher()
    for leaf in leaves:
        tree.add(leaf)
    return tree.root()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtrees [a, b) whose roots make the audit path of leaf `index` in a tree of `size` (RFC 9162 2.1.3.1),
    bottom-up."""
    if not 0 <= index < size:
        raise ValueError("index outside the tree")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    return out[::-1]


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The subtrees [a, b) whose roots make the consistency proof from `old` to `new` leaves (RFC 9162 2.1.4.1)."""
    if not 0 < old <= new:
        raise ValueError("sizes out of order")
    out: list[tuple[int, int]] = []
    lo, hi, m, whole = 0, new, old, True
    while True:
        if m == hi - lo:
            if not whole:
                out.append((lo, hi))
            break
        k = _split(hi - lo)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    return out[::-1]


def subtree_hashes(leaves: Iterable[bytes], size: int, needed: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The roots of the `needed` subtrees [a, b) of the tree over the first `size` leaves, in one pass.

    Every subtree a proof names is a node of the tree: a perfect one (seen when the stack merges it)
    or one on the right edge, [a, size) (folded from the stack at the end). Memory: log2(size) + needed.
    """
    found: dict[tuple[int, int], bytes] = {}
    stack: list[tuple[int, int, bytes]] = []  # (first leaf, leaves, hash) of perfect subtrees
    count = 0
    for index, leaf in enumerate(leaves):
        if index >= size:
            break
        count += 1
        start, width, h = index, 1, leaf
        if (index, index + 1) in needed:
            found[(index, index + 1)] = leaf
        while stack and stack[-1][1] == width:
            start, left_width, left = stack.pop()
            width, h = width + left_width, node_hash(left, h)
            if (start, start + width) in needed:
                found[(start, start + width)] = h
        stack.append((start, width, h))
    if count < size:
        raise ValueError("fewer leaves than the tree size")
    acc: bytes | None = None
    for start, _, h in reversed(stack):
        acc = h if acc is None else node_hash(h, acc)
        if (start, size) in needed:
            found[(start, size)] = acc
    missing = needed - found.keys()
    if missing:
        raise ValueError(f"not subtrees of this tree: {sorted(missing)[:3]}")
    return found


def range_hashes(leaves: Iterable[bytes], ranges: Sequence[tuple[int, int]], size: int) -> list[bytes]:
    """The roots of `ranges` (subtrees of the tree over the first `size` leaves), in their order."""
    found = subtree_hashes(leaves, size, set(ranges))
    return [found[r] for r in ranges]


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2."""
    if old == new:
        return not proof and old_root == new_root
    if not 0 < old < new or not proof and old & (old - 1):
        return False
    path = list(proof)
    if not old & (old - 1):  # old is a power of two: its root is the first node
        path = [old_root, *path]
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
