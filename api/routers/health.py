"""Liveness and readiness."""

from fastapi import APIRouter, Request

from api.problems import responses
from api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, responses=responses(413), summary="健康检查")
async def healthz(request: Request) -> Health:
    try:
        client = await request.app.state.temporal.get()
        await client.service_client.check_health()
        temporal = "ok"
    except Exception:  # TemporalUnavailable or an RPC error: report it, never fail the probe itself
        temporal = "unavailable"
    return Health(status="ok" if temporal == "ok" else "degraded", temporal=temporal)
