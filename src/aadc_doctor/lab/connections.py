"""The client connections a lab server is handling, so that closing the lab ends them too.

The origin and the proxy serve each connection in its own task; a connection ends quietly when the client
misbehaves or goes away, or when the lab shuts down, and its socket is always closed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class ConnectionTasks:
    """Tracks the tasks serving connections; `cancel_all` ends the ones still running."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()

    @contextlib.asynccontextmanager
    async def serving(self, writer: asyncio.StreamWriter,
                      quiet: tuple[type[BaseException], ...] = ()) -> AsyncIterator[None]:
        """Serve one connection in the current task; exceptions of the `quiet` types end it without a trace."""
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        except quiet:
            pass
        except asyncio.CancelledError:
            pass  # the lab is shutting down: end this connection quietly, the server is closing anyway
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
