"""Dependencies of the routes: settings, the Temporal client (connected lazily, retried), kaiban's store."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from runtime.settings import Settings, get_settings
from runtime.temporal import connect
from store import NoticeStore, Store


class TemporalUnavailable(Exception):
    """The Temporal server cannot be reached right now."""


class ClientHolder:
    """Owns the API's Temporal client; connects on first use, so the API starts even if Temporal is late."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await connect(self._settings)
                except Exception as exc:  # connection refused, DNS, TLS ...
                    raise TemporalUnavailable(
                        f"cannot reach Temporal at {self._settings.temporal_address}: {exc}"
                    ) from exc
        return self._client


def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _client(request: Request) -> Client:
    return await request.app.state.temporal.get()


def _notices(request: Request) -> NoticeStore:
    store: Store = request.app.state.store  # opened (and migrated) once per app, in the lifespan
    return store.notices


SettingsDep = Annotated[Settings, Depends(_settings)]
ClientDep = Annotated[Client, Depends(_client)]
NoticesDep = Annotated[NoticeStore, Depends(_notices)]

__all__ = ["ClientDep", "ClientHolder", "NoticesDep", "SettingsDep", "TemporalUnavailable", "get_settings"]
