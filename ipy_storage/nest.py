"""Opt-in nested event loops (behaviour §6.6).

ipy_storage never needs this: ``storage.pull()`` works inside a running event loop. It is for
users whose own code calls ``asyncio.run(...)`` or ``loop.run_until_complete(...)`` in a notebook
cell, which fails with "asyncio.run() cannot be called from a running event loop".

Risks, which is why nothing is patched on import or ``%load_ext``: the patch changes asyncio for
the whole kernel process and cannot be undone; a nested ``run`` blocks the outer loop until it
returns, so other tasks (widgets' comms, other coroutines) stall meanwhile; and libraries that
assume the standard loop (uvloop, some tornado and anyio versions) may misbehave.
"""

from __future__ import annotations

import asyncio


def allow_nested_event_loops(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Patch asyncio with ``nest-asyncio2`` so ``asyncio.run()`` works inside a running loop
    (the current loop unless one is given). Applying it twice is harmless."""
    import nest_asyncio2

    nest_asyncio2.apply(loop)
