"""Reproduce, with a toy workflow, the Temporal behaviour patch PER_EVENT guards against (temporalio 1.35, dev
server 1.32): a query answered while a workflow task waits on a dead worker's sticky queue splits the events
of that task into two activations, whose commands go out in one completion; a replay applies the events in one
activation, so a workflow whose commands depend on the grouping fails to replay.

    .venv/bin/python scripts/query_split_repro.py          # the toy starts its timers from tasks: fails
    .venv/bin/python scripts/query_split_repro.py --at-once  # each coroutine's commands at once: replays

The toy runs three activities in parallel; after each it writes a memo (a command at once) and starts a timer
from a task of its own (``ensure_future``: a command once every ready coroutine has run). Steps: worker A takes
the first workflow task and is killed; worker B starts; two activities complete (a workflow task is scheduled on
A's sticky queue); a query comes after the server stopped counting on A (about 10 s) and B answers it, applying
the two completions; the third completes; the sticky task times out and B completes it with the commands of
both activations. Timing-based (the server's sticky windows), so a script for a person, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TOY = textwrap.dedent(
    """
    import asyncio, os, sys
    from datetime import timedelta
    from temporalio import activity, workflow

    AT_ONCE = os.environ.get("TOY_AT_ONCE") == "1"
    GATES = os.environ["TOY_GATES"]

    @activity.defn(name="act")
    async def act(i: int) -> int:
        while not os.path.exists(f"{GATES}/release{i}"):
            await asyncio.sleep(0.05)
        return i

    @workflow.defn(name="Toy")
    class Toy:
        def __init__(self) -> None:
            self.done: list[int] = []

        @workflow.query
        def q(self) -> list[int]:
            return self.done

        async def one(self, i: int) -> None:
            await workflow.execute_activity("act", i, task_queue="acts", start_to_close_timeout=timedelta(minutes=5))
            self.done.append(i)
            workflow.upsert_memo({f"m{i}": i})
            if AT_ONCE:
                asyncio.get_running_loop().call_later(1000 + i, lambda: None)
            else:
                asyncio.ensure_future(workflow.sleep(1000 + i))

        @workflow.run
        async def run(self) -> list[int]:
            await asyncio.gather(*(self.one(i) for i in range(3)))
            try:
                await workflow.wait_condition(lambda: False, timeout=timedelta(seconds=5))
            except asyncio.TimeoutError:
                pass
            return self.done

    if __name__ == "__main__":
        from temporalio.client import Client
        from temporalio.worker import Worker

        async def main() -> None:
            client = await Client.connect(sys.argv[1])
            async with Worker(client, task_queue="toy", workflows=[Toy]):
                await asyncio.Event().wait()

        asyncio.run(main())
    """
)


async def _until(handle, event_type: int, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = await handle.fetch_history()
        if sum(1 for e in history.events if e.event_type == event_type) >= n:
            return
        await asyncio.sleep(0.1)
    raise SystemExit(f"timed out waiting for {n} events of type {event_type}")


async def main(at_once: bool) -> int:
    sys.path.insert(0, str(ROOT))
    from temporalio.api.enums.v1 import EventType
    from temporalio.testing import WorkflowEnvironment
    from temporalio.worker import Replayer, Worker

    from runtime.temporal import temporal_cli_path

    with tempfile.TemporaryDirectory() as tmp:
        gates = Path(tmp)
        (gates / "toy.py").write_text(TOY)
        sys.path.insert(0, tmp)
        env_vars = {"TOY_GATES": tmp, "TOY_AT_ONCE": "1" if at_once else "0", "PYTHONPATH": tmp}
        os.environ.update(env_vars)
        import toy  # the toy module written above

        env = await WorkflowEnvironment.start_local(dev_server_existing_path=temporal_cli_path(), ui=False)
        address = env.client.service_client.config.target_host

        def worker() -> subprocess.Popen:
            return subprocess.Popen([sys.executable, str(gates / "toy.py"), address], env={**os.environ, **env_vars})

        workers = []
        try:
            async with Worker(env.client, task_queue="acts", activities=[toy.act]):
                workers.append(worker())
                handle = await env.client.start_workflow("Toy", id="toy", task_queue="toy")
                await _until(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, 3)
                await asyncio.sleep(1.5)
                workers[0].kill()  # worker A: its sticky queue is dead
                workers[0].wait()
                workers.append(worker())  # worker B
                start = time.monotonic()

                async def poll() -> None:  # a status page asking every half second
                    while True:
                        answer = await handle.query("q")
                        print(f"query at {time.monotonic() - start:4.1f} s: {answer}")
                        await asyncio.sleep(0.5)

                polling = asyncio.ensure_future(poll())
                await asyncio.sleep(8)
                for i in (0, 1):
                    (gates / f"release{i}").touch()
                await _until(handle, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, 2)
                await asyncio.sleep(3)  # B has answered a query with the two completions applied
                (gates / "release2").touch()
                print("result:", await handle.result())
                polling.cancel()
                history = await handle.fetch_history()
        finally:
            for w in workers:
                w.kill()
            await env.shutdown()
        try:
            await Replayer(workflows=[toy.Toy]).replay_workflow(history)
        except Exception as exc:  # the nondeterminism this script shows
            print(f"REPLAY FAILED: {type(exc).__name__}: {str(exc)[:300]}")
            return 1
        print("REPLAY OK")
        return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at-once", action="store_true", help="start the timers at once (as PER_EVENT does)")
    sys.exit(asyncio.run(main(parser.parse_args().at_once)))
