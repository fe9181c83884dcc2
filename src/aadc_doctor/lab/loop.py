"""An asyncio event loop on its own thread, so blocking callers (the CLI, tests) can run the lab's servers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """Start once, submit coroutines with `run`, `stop` cancels what is left and joins the thread."""

    def __init__(self, name: str = "aadc-doctor-lab") -> None:
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        # daemon: an interpreter that is exiting anyway (second Ctrl-C) must not wait for the lab
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.call_soon(self._ready.set)
        self._loop.run_forever()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10.0):
            raise RuntimeError("the lab's event loop did not start")

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run `coro` on the lab loop and wait for its result (re-raising its exception)."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        """Cancel every task still running on the loop, stop it and join the thread (idempotent)."""
        if not self._thread.is_alive():
            if not self._loop.is_closed():
                self._loop.close()
            return
        asyncio.run_coroutine_threadsafe(self._cancel_all(), self._loop).result(10.0)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10.0)
        if not self._thread.is_alive():
            self._loop.close()

    async def _cancel_all(self) -> None:
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._loop.shutdown_asyncgens()
