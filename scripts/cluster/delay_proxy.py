"""A TCP proxy that delays every chunk by a fixed time each way: how
`scripts/cluster.sh slow HOST MS` makes one pool host slow for the edge
(tc netem is not available everywhere).

  delay_proxy.py LISTEN_ADDR LISTEN_PORT TARGET_ADDR TARGET_PORT MS
"""

import asyncio
import sys


async def pipe(reader, writer, delay):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    laddr, lport, taddr, tport, ms = sys.argv[1:6]
    delay = int(ms) / 1000.0

    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection(taddr, int(tport))
        except OSError:
            cw.close()
            return
        await asyncio.gather(pipe(cr, uw, delay), pipe(ur, cw, delay))

    server = await asyncio.start_server(handle, laddr, int(lport))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
