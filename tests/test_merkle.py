"""The Merkle tree against a plain recursive reading of RFC 9162 section 2.1, for every small size."""

from __future__ import annotations

import hashlib

from wijkflow import merkle


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, literally."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


LEAVES = [merkle.leaf_hash(str(i).encode()) for i in range(40)]


def test_roots_match_the_recursive_definition():
    for n in range(0, 40):
        assert merkle.root_of(LEAVES[:n]) == mth(LEAVES[:n]), n


def test_every_inclusion_proof_verifies_and_a_wrong_one_does_not():
    for n in range(1, 34):
        root = mth(LEAVES[:n])
        for i in range(n):
            ranges = merkle.inclusion_ranges(i, n)
            proof = merkle.range_hashes(iter(LEAVES), ranges, n)
            assert proof == [mth(LEAVES[a:b]) for a, b in ranges]
            assert merkle.verify_inclusion(i, n, LEAVES[i], proof, root), (i, n)
            assert not merkle.verify_inclusion(i, n, merkle.leaf_hash(b"forged"), proof, root)
            if n > 1:  # the same leaf claimed at another place
                assert not merkle.verify_inclusion((i + 1) % n, n, LEAVES[i], proof, root)


def test_every_consistency_proof_verifies_and_a_rewritten_prefix_does_not():
    for new in range(1, 34):
        for old in range(1, new + 1):
            proof = merkle.range_hashes(iter(LEAVES), merkle.consistency_ranges(old, new), new)
            assert merkle.verify_consistency(old, new, mth(LEAVES[:old]), mth(LEAVES[:new]), proof), (old, new)
            if old < new:
                other = [*LEAVES[: old - 1], merkle.leaf_hash(b"forged")]
                assert not merkle.verify_consistency(old, new, mth(other), mth(LEAVES[:new]), proof)
