"""Seed to entropy: the random integers a rendering draws its choices from.

A rendering takes each choice as ``divmod(entropy, n)`` of one integer, a BLAKE2b
hash of the seed, so it is the same on every machine, process and Python version,
unlike ``hash()``, and costs one hash call per render, far less than seeding
``random.Random``. A draw stays uniform while the remaining entropy is much larger
than ``n``; one 512-bit chunk covers :data:`DRAW_LIMIT` worth of draws (the product
of their option counts) with 64 bits to spare, and a template that needs more has
*reseed* points compiled in, each taking a fresh chunk (see :mod:`spintax.program`).

Changing anything here changes every rendering: bump :data:`ALGORITHM`.
"""

from __future__ import annotations

import hashlib
from typing import Final

__all__ = ["ALGORITHM", "DRAW_LIMIT", "entropy_size_bytes", "reseed_entropy", "seed_entropy"]

ALGORITHM: Final = "spintax/1"
"""The name of the rendering algorithm; part of every hash, so a new one never collides."""

_CHUNK_BYTES: Final = 64  # BLAKE2b's largest digest
_SLACK_BITS: Final = 64  # each draw within 2**-64 of uniform
DRAW_LIMIT: Final = 2 ** (8 * _CHUNK_BYTES - _SLACK_BITS)
"""The largest product of option counts one chunk of entropy draws uniformly."""

_DOMAIN: Final = ALGORITHM.encode() + b"\x00"
_RESEED_DOMAIN: Final = ALGORITHM.encode() + b"/reseed\x00"


def entropy_size_bytes(max_path_product: int) -> int:
    """How many random bytes the first chunk needs, given the template's largest path product.

    Small templates need only a few bytes (a smaller integer divides faster); past
    :data:`DRAW_LIMIT` a full chunk, and reseeds for the rest.
    """
    if max_path_product > DRAW_LIMIT:
        return _CHUNK_BYTES
    return (max_path_product.bit_length() + _SLACK_BITS + 7) // 8


def seed_entropy(seed: str | int, size_bytes: int) -> int:
    """The integer of ``size_bytes`` (at most 64) random bytes that ``seed`` stands for.

    An ``int`` seed is used as its decimal text, so ``42`` and ``"42"`` are the same
    seed (the CLI's ``--seed 42`` shows what ``seed=42`` renders).
    """
    data = _DOMAIN + _seed_bytes(seed)
    return int.from_bytes(hashlib.blake2b(data, digest_size=size_bytes).digest(), "big")


def reseed_entropy(seed: str | int, reseed: int) -> int:
    """The fresh 512-bit chunk for reseed point number ``reseed`` of a rendering with ``seed``."""
    data = _RESEED_DOMAIN + reseed.to_bytes(8, "big") + _seed_bytes(seed)
    return int.from_bytes(hashlib.blake2b(data, digest_size=_CHUNK_BYTES).digest(), "big")


def _seed_bytes(seed: str | int) -> bytes:
    if isinstance(seed, str):
        text = seed
    elif isinstance(seed, int):
        text = str(seed)
    else:
        raise TypeError(f"seed must be a str or an int, not {type(seed).__name__}")
    # surrogatepass: any str, even one with lone surrogates, is a usable seed.
    return text.encode("utf-8", "surrogatepass")
