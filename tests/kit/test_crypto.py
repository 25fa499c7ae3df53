"""Pooled random bytes: the right lengths, never the same bytes twice, not even across fork."""

from __future__ import annotations

import os
import warnings

from referkit.kit.crypto import random_bytes


def test_lengths_and_no_repeats() -> None:
    chunks = [random_bytes(10) for _ in range(2000)]  # several refills of the 4 KiB pool
    assert {len(chunk) for chunk in chunks} == {10}
    assert len(set(chunks)) == len(chunks)
    assert len(random_bytes(10_000)) == 10_000
    assert random_bytes(0) == b""


def test_a_forked_child_does_not_reuse_the_parents_bytes() -> None:
    random_bytes(10)  # the pool now holds bytes the parent will hand out next
    reader, writer = os.pipe()
    with warnings.catch_warnings():  # 3.12+ warns about fork in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        child = os.fork()
    if child == 0:  # pragma: no cover - the child process
        os.write(writer, random_bytes(16))
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    from_child = os.read(reader, 16)
    os.close(reader)
    assert len(from_child) == 16
    assert random_bytes(16) != from_child
