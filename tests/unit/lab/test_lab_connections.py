"""The lab's connection tracking: closing the lab ends every connection, a misbehaving client ends only its own."""

from __future__ import annotations

import asyncio

import pytest

from aadc_doctor.lab.connections import ConnectionTasks


async def _pair() -> tuple[asyncio.StreamReader, asyncio.StreamWriter, asyncio.StreamWriter, asyncio.AbstractServer]:
    """A loopback connection: the client's reader and writer, and the server's writer."""
    accepted: asyncio.Future[asyncio.StreamWriter] = asyncio.get_running_loop().create_future()

    async def on_client(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        accepted.set_result(w)

    server = await asyncio.start_server(on_client, "127.0.0.1", 0)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.sockets[0].getsockname()[1])
    return reader, writer, await accepted, server


def test_cancel_all_ends_a_serving_connection_and_closes_its_socket() -> None:
    async def go() -> bytes:
        reader, writer, served, server = await _pair()
        connections = ConnectionTasks()

        async def serve() -> None:
            async with connections.serving(served):
                await asyncio.sleep(30)

        task = asyncio.create_task(serve())
        await asyncio.sleep(0.05)
        await asyncio.wait_for(connections.cancel_all(), 2)
        assert task.done() and not task.cancelled()  # ended quietly, not with a CancelledError
        data = await asyncio.wait_for(reader.read(), 2)  # EOF: the lab closed its end
        writer.close()
        server.close()
        return data

    assert asyncio.run(go()) == b""


def test_quiet_errors_end_the_connection_and_others_propagate() -> None:
    async def go(error: type[Exception]) -> bytes:
        reader, writer, served, server = await _pair()
        try:
            async with ConnectionTasks().serving(served, (ConnectionError,)):
                raise error("client went away")
            return await asyncio.wait_for(reader.read(), 2)
        finally:
            writer.close()
            server.close()

    assert asyncio.run(go(ConnectionResetError)) == b""
    with pytest.raises(ValueError, match="client went away"):
        asyncio.run(go(ValueError))
