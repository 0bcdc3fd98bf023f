"""Kill the worker with SIGKILL while robots are mid-form, start it again: nothing is lost, nothing is filed twice."""

import asyncio
import os
import signal
import subprocess
import sys

import httpx
from temporalio.worker import Replayer

from activities.models import ActivityName
from cli.worker import WORKFLOW_RUNNER
from runtime.settings import ROOT
from tests.e2e.conftest import APIS, PORTALS, e2e_settings, running_api, running_departments, settings_env
from tests.e2e.test_end_to_end import CLERK, wait_finished
from workflows.application import ApplicationWorkflow
from workflows.notification import NotificationWorkflow


def start_worker(env_vars: dict[str, str], log_path) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "cli.worker"], cwd=ROOT, env={**os.environ, **env_vars}, stdout=log, stderr=log
    )


async def robot_mid_form(client, application_ids: list[str], codes: tuple[str, ...]) -> str | None:
    """The id of an application one of whose ``codes`` robots last reported a form step (``form:<step>``) of
    its dispatch (activity ids name the department: ``amr.dispatch.r1``)."""
    for app_id in application_ids:
        try:
            desc = await client.get_workflow_handle(app_id).describe()
        except Exception:  # not started yet
            continue
        for pending in desc.raw_description.pending_activities:
            if pending.activity_type.name != ActivityName.DISPATCH or not pending.heartbeat_details.payloads:
                continue
            if pending.activity_id.split(".", 1)[0] not in codes:
                continue
            details = await client.data_converter.decode(pending.heartbeat_details.payloads)  # encrypted payloads
            if details and str(details[0]).startswith("form:"):
                return app_id
    return None


async def wait_mid_form(client, application_ids: list[str], codes: tuple[str, ...], timeout: float = 90.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        found = await robot_mid_form(client, application_ids, codes)
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("no robot got mid-form in time")


async def test_sigkill_worker_mid_form_then_restart(dev_env, tmp_path, sample_json):
    address = dev_env.client.service_client.config.target_host
    # each wizard step takes 1 s, so a robot stays on its form for seconds; heartbeats (throttled to
    # 0.8 x the heartbeat timeout) report the step within 1.6 s
    async with running_departments(tmp_path, step_delay_s=1.0) as departments:
        settings = e2e_settings(departments, tmp_path, robot_heartbeat_timeout_s=2.0, retry_initial_s=0.5)
        env_vars = settings_env(settings, address)
        log_path = tmp_path / "worker.log"
        worker = start_worker(env_vars, log_path)
        try:
            async with (
                running_api(settings, dev_env.client) as api,
                httpx.AsyncClient(base_url=api, timeout=30, headers=CLERK) as http,
            ):
                ids = []
                for _ in range(2):
                    r = await http.post("/api/v1/applications", json=sample_json)
                    assert r.status_code == 202, r.text
                    ids.append(r.json()["application_id"])

                # 1st kill: the market-regulation robots are filling their forms
                app_of_victim = await wait_mid_form(dev_env.client, ids, ("amr",))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                assert departments.count("amr", app_of_victim) == 0, "killed before the form was submitted"
                worker = start_worker(env_vars, log_path)

                # 2nd kill: the robots of the parallel departments are mid-form
                await wait_mid_form(dev_env.client, ids, ("psb_seal", "hrss", "hpf"))
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                worker = start_worker(env_vars, log_path)

                try:
                    views = [await wait_finished(http, a, timeout=240) for a in ids]
                except Exception:  # keep the histories for diagnosis (e.g. a replay that diverged)
                    for app_id in ids:
                        h = await dev_env.client.get_workflow_handle(app_id).fetch_history()
                        (tmp_path / f"{app_id}.history.json").write_text(h.to_json())
                    raise
        finally:
            worker.send_signal(signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()

    # the restarted worker rebuilt every application by replaying its history: replaying them again from
    # the start must issue exactly the recorded commands
    replayer = Replayer(
        workflows=[ApplicationWorkflow, NotificationWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        data_converter=dev_env.client.data_converter,
    )
    for app_id in ids:
        history = await dev_env.client.get_workflow_handle(app_id).fetch_history()
        (tmp_path / f"{app_id}.history.json").write_text(history.to_json())
        await replayer.replay_workflow(history)
    for view in views:
        assert view["status"] == "completed", view
        assert all(d["status"] == "completed" for d in view["departments"]), view
        for code in (*PORTALS, *APIS):
            assert departments.count(code, view["application_id"]) == 1, (code, view["application_id"])
