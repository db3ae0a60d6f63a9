"""Work in forked processes, results in order (not a benchmark itself: `make bench` skips `_*.py`)."""

from __future__ import annotations

import collections
import multiprocessing
from collections.abc import Callable, Iterable
from typing import Any


def in_order(work: Callable[[Any], Any], items: Iterable[Any], consume: Callable[[Any], None], workers: int) -> None:
    """``consume(work(item))`` for each item, in order; with ``workers`` > 0 ``work`` runs
    in forked processes while ``consume`` runs here, at most two items per worker ahead (so
    memory stays bounded). ``work`` is a module-level function: a forked worker inherits the
    caller's globals, which is how the scripts hand it their world. Without fork (or with
    no workers) everything runs here."""
    if workers <= 0 or "fork" not in multiprocessing.get_all_start_methods():
        for item in items:
            consume(work(item))
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending: collections.deque = collections.deque()
        todo = iter(items)
        for item in todo:
            pending.append(pool.apply_async(work, (item,)))
            if len(pending) >= 2 * workers:
                break
        while pending:
            result = pending.popleft().get()
            nxt = next(todo, None)
            if nxt is not None:
                pending.append(pool.apply_async(work, (nxt,)))
            consume(result)
