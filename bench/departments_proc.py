"""The seven simulated departments of :func:`bench.mix.departments` in a process of their own, so that the
mix can count the CPU the simulators spend apart from kaiban's and the load generator's.

    python -m bench.departments_proc --tmp DIR --process-delay 5 --urls-out DIR/urls.json

Writes ``{code: base URL}`` to ``--urls-out`` once every department answers, then serves until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from pathlib import Path


async def serve(tmp: Path, process_delay_s: float, urls_out: Path, prefix: str) -> None:
    from bench.common import quiet_logging
    from bench.mix import departments

    quiet_logging()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with departments(tmp, process_delay_s, prefix=prefix) as urls:
        part = urls_out.with_suffix(".part")
        part.write_text(json.dumps(urls), encoding="utf-8")
        part.replace(urls_out)  # whole or absent: the reader polls for it
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.departments_proc")
    p.add_argument("--tmp", type=Path, required=True)
    p.add_argument("--process-delay", type=float, default=0.0)
    p.add_argument("--urls-out", type=Path, required=True)
    p.add_argument("--prefix", default="mix")
    args = p.parse_args(argv)
    asyncio.run(serve(args.tmp, args.process_delay, args.urls_out, args.prefix))


if __name__ == "__main__":
    main()
