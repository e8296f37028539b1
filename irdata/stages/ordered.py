"""A thread pool whose results come back in input order, with bounded memory."""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice


def ordered_map(work, items, threads: int, window: int | None = None, name: str = "irdata"):
    """`work(item)` per item, in item order, on `threads` threads, at most `window`
    (default 2 x threads) in flight; a generator `items` advances on the caller's thread."""
    window = window or 2 * threads
    with ThreadPoolExecutor(threads, thread_name_prefix=name) as pool:
        source = iter(items)
        pending = deque(pool.submit(work, item) for item in islice(source, window))
        while pending:
            result = pending.popleft().result()
            following = next(source, None)
            if following is not None:
                pending.append(pool.submit(work, following))
            yield result
