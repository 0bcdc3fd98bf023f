"""All settings in one place (pydantic-settings), read through a cached ``get_settings()``.

Every value has an embedded default that runs the whole stack on one machine; each can
be set with an environment variable ``KAIBAN_<NAME>`` or in a ``.env`` file. Department
credentials come from ``KAIBAN_CRED_<REF>_USERNAME`` / ``_PASSWORD`` or from files
``<secrets_dir>/cred_<ref>_username`` / ``_password`` (Docker/Kubernetes secrets).
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.arrangements import YearArrangement, arrangement_problems
from domain.calendar import WorkingCalendar, parse_overrides_text
from domain.catalog import Catalog, load_catalog
from domain.sla import SlaPolicy
from domain.status import Channel
from runtime.access import (
    DEV_TOKEN_HASHES,
    DEV_TOKENS,
    AccessSettings,
    TokenEntry,
    dev_callback_secret,
    read_token_file,
)
from runtime.materials import MaterialSettings
from runtime.people import PeopleSettings
from runtime.timing import Timing

ROOT = Path(__file__).resolve().parent.parent

# A development-only key: production refuses to start with it.
DEV_PAYLOAD_KEY = base64.b64encode(b"kaiban-development-key-32-bytes!").decode()


class Credentials:
    """A department account. ``repr`` never shows the password."""

    __slots__ = ("username", "password")

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***)"


# Who escalation steps go to (``Notification.audience``); ``webhooks`` may only name these.
AUDIENCES = ("department_handler", "department_supervisor", "window_supervisor", "leading_group_office")
WEBHOOK_SECRET_MIN_PRODUCTION = 32


class WebhookTarget(BaseModel):
    """Where one audience's notifications are POSTed, and the HMAC secret that signs them.

    ``repr`` never shows the secret.
    """

    url: str
    secret: str = Field(min_length=16, repr=False)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("webhook url must start with http:// or https://")
        return url


class Settings(BaseSettings, Timing, AccessSettings, PeopleSettings, MaterialSettings):
    model_config = SettingsConfigDict(env_prefix="KAIBAN_", env_file=".env", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = "development"

    # Temporal
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    task_queue: str = "kaiban"
    robot_task_queue: str = "kaiban-robots"
    payload_key: str = Field(DEV_PAYLOAD_KEY, repr=False)  # base64 of 32 bytes: AES-256-GCM for workflow payloads
    # Payload key rotation (runtime.codec): new payloads carry payload_key_id ("kaiban-v1" is the id every
    # payload written so far carries); payload_old_keys only decode, e.g. after a rotation to "k2":
    # KAIBAN_PAYLOAD_KEY=<new>, KAIBAN_PAYLOAD_KEY_ID=k2, KAIBAN_PAYLOAD_OLD_KEYS='{"kaiban-v1": "<old key>"}'
    payload_key_id: str = Field(default="kaiban-v1", min_length=1, max_length=64)
    payload_old_keys: dict[str, str] = Field(default_factory=dict, repr=False)  # key id -> base64 of 32 bytes

    @field_validator("payload_old_keys")
    @classmethod
    def _old_payload_keys(cls, keys: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        for key_id, key in keys.items():
            try:
                size = len(base64.b64decode(key, validate=True))
            except ValueError:
                size = -1
            if size != 32:
                raise ValueError(f"KAIBAN_PAYLOAD_OLD_KEYS[{key_id!r}] must be base64 of exactly 32 bytes")
            if key == DEV_PAYLOAD_KEY and info.data.get("environment") == "production":
                raise ValueError("KAIBAN_PAYLOAD_OLD_KEYS must not hold the development key in production")
        if info.data.get("payload_key_id") in keys:
            raise ValueError("KAIBAN_PAYLOAD_OLD_KEYS must not name the current KAIBAN_PAYLOAD_KEY_ID")
        return keys

    # API
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    # the largest request body the API reads (bytes); a larger one is 413 before it is parsed
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # POST /api/v1/applications with an Idempotency-Key: the same key and body of a window give the same
    # application for this many hours after its first submission (finished or not); then the key is free again
    idempotency_ttl_hours: int = Field(default=24, ge=1)

    # Where things live
    data_dir: Path = ROOT / "data"
    catalog_path: Path = ROOT / "config" / "departments.yaml"
    secrets_dir: Path | None = None
    channel_overrides: dict[str, Channel] = Field(default_factory=dict)  # {"hpf": "api"}
    department_urls: dict[str, str] = Field(default_factory=dict)  # {"amr": "http://portal.amr:8080"}

    # kaiban's own records (escalation notices and their deliveries), written by the workers and read by
    # the API: one database for every host. By default a SQLite file in ``data_dir`` (it follows
    # KAIBAN_DATA_DIR); in production PostgreSQL, e.g. postgresql+psycopg://kaiban:...@db/kaiban
    database_url: str = Field(
        default_factory=lambda data: f"sqlite:///{data['data_dir'] / 'kaiban.sqlite3'}", repr=False
    )
    # Escalation notices: per audience, a signed webhook besides the store
    # KAIBAN_WEBHOOKS='{"window_supervisor": {"url": "https://...", "secret": "..."}}'
    webhooks: dict[str, WebhookTarget] = Field(default_factory=dict)
    webhook_timeout_s: float = 10.0

    # Robots
    chromium_path: str | None = None
    evidence_dir: Path | None = None  # screenshots and traces of failed robot attempts; default <data_dir>/evidence
    headless: bool = True
    robot_max_sessions: int = 3
    robot_reuse_sessions: bool = True  # a portal account's logged-in session serves its next robot tasks
    robot_recycle_after_tasks: int = Field(default=200, ge=0)  # a new Chromium after that many tasks; 0: never
    # logged-in pages kept open per portal account between its tasks (0: a fresh context per task, cookies kept)
    robot_warm_pages: int = Field(default=3, ge=0)
    robot_warm_pages_total: int = Field(default=6, ge=0)  # warm pages kept open in all, every account together
    robot_page_recycle_tasks: int = Field(default=50, ge=0)  # a warm page is closed after that many tasks; 0: never
    robot_page_idle_s: float = Field(default=300.0, gt=0)  # a warm page idle that long is closed
    # the first attempt of a robot task that records a Playwright trace (earlier ones: screenshot, HTML, steps)
    robot_trace_from_attempt: int = Field(default=2, ge=1)
    # answers to a login's image captcha, each on a new picture, before the attempt fails (retried later)
    robot_captcha_attempts: int = Field(default=5, ge=1, le=20)
    # a changed portal's proposed field mapping: a field scored below this (0-100) needs a person's confirmation
    robot_mapping_threshold: float = Field(default=85.0, ge=0, le=100)
    # Retries and polling: the fields of runtime.timing.Timing (KAIBAN_ROBOT_TASK_TIMEOUT_S, KAIBAN_POLL_MAX_S, …)
    # Sweeps (workflows/sweeper.py): one PortalSweeper per robot department's portal account, started by the
    # orchestration worker, reads the account's 我的办件 list (one robot session) and tells every waiting
    # application its result; a task's own inquiry is then the fallback, first after swept_poll_initial_s
    sweep_enabled: bool = True
    sweep_interval_s: float = Field(default=5.0, gt=0)  # between sweeps while cases are in review (or just filed)
    sweep_idle_interval_s: float = Field(default=60.0, gt=0)  # between sweeps when the list shows none in review
    sweep_paces: dict[str, float] = Field(default_factory=dict)  # a department's own sweep_interval_s: {"amr": 30}
    sweep_max_pages: int = Field(default=10, ge=1)  # pages of the list one sweep reads at most (20 cases each)
    swept_poll_initial_s: float | None = 60.0  # Timing's: the first fallback inquiry (None with sweeps off)
    # Timing's: an API department calls back with its decision; the task's first fallback inquiry this long after
    # filing (0: inquire from poll_initial_s on, for departments that do not call back)
    api_callback_poll_initial_s: float = Field(default=60.0, ge=0)

    # Simulated departments (``make run``): how long a department takes to "process"
    sim_process_delay_s: float = 3.0
    sim_step_delay_s: float = 0.0

    # Deadlines: the statutory working calendar (with a province's overrides) and the SLA policy
    calendar_overrides_path: Path | None = ROOT / "config" / "calendar_overrides.yaml"
    # the official arrangements of years chinese-calendar does not carry yet, one file a year (<year>.yaml|json,
    # the body of PUT /api/v1/admin/calendar/{year}); what an admin loads into the store wins over a file
    calendar_years_dir: Path | None = ROOT / "config" / "calendar"
    sla_policy: SlaPolicy = Field(default_factory=SlaPolicy)  # KAIBAN_SLA_POLICY='{"same_day_cutoff": "14:00"}'

    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _refuse_default_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.payload_key == DEV_PAYLOAD_KEY:
                raise ValueError("KAIBAN_PAYLOAD_KEY must be set in production (the development key is public)")
        key = base64.b64decode(self.payload_key)
        if len(key) != 32:
            raise ValueError("KAIBAN_PAYLOAD_KEY must be base64 of exactly 32 bytes")
        return self

    @model_validator(mode="after")
    def _separate_queues(self) -> Settings:
        if self.robot_task_queue == self.task_queue:
            raise ValueError(
                "KAIBAN_ROBOT_TASK_QUEUE must differ from KAIBAN_TASK_QUEUE: robot work has its own queue so that "
                "browser workers scale apart (one worker process may still serve both with --role all)"
            )
        return self

    @model_validator(mode="after")
    def _check_webhooks(self) -> Settings:
        unknown = sorted(set(self.webhooks) - set(AUDIENCES))
        if unknown:
            raise ValueError(f"KAIBAN_WEBHOOKS names unknown audiences {unknown}; known: {list(AUDIENCES)}")
        if self.environment == "production":
            weak = sorted(a for a, t in self.webhooks.items() if len(t.secret) < WEBHOOK_SECRET_MIN_PRODUCTION)
            if weak:
                raise ValueError(
                    f"webhook secrets must have at least {WEBHOOK_SECRET_MIN_PRODUCTION} characters in production "
                    f"(too short for: {weak})"
                )
        return self

    def catalog(self) -> Catalog:
        """The department catalog with this deployment's channel and URL overrides applied."""
        catalog = _read_catalog(self.catalog_path)
        deps = []
        for d in catalog.departments:
            update: dict = {}
            if d.code in self.channel_overrides:
                update["channel"] = self.channel_overrides[d.code]
            if d.code in self.department_urls:
                update["base_url"] = self.department_urls[d.code]
            deps.append(d.model_copy(update=update) if update else d)
        return Catalog(departments=tuple(deps))

    @property
    def evidence_path(self) -> Path:
        return self.evidence_dir or self.data_dir / "evidence"

    def working_calendar(self, loaded: Mapping[int, YearArrangement] | None = None) -> WorkingCalendar:
        """The working calendar: chinese-calendar; the years' arrangements from ``calendar_years_dir``, then
        ``loaded`` (the store's: an admin's load wins over a file); the override file's days winning over all."""
        years = {**_read_year_files(self.calendar_years_dir), **(loaded or {})}
        return _read_calendar(self.calendar_overrides_path, tuple(sorted(years.items())))

    def calendar_year_files(self) -> dict[int, YearArrangement]:
        """The arrangements in ``calendar_years_dir`` (a fresh install's years), by year."""
        return dict(_read_year_files(self.calendar_years_dir))

    def credentials(self, ref: str) -> Credentials:
        """A department account by its catalog reference: environment, then secret files, then dev default."""

        def read(kind: str) -> str | None:
            return self._secret(f"KAIBAN_CRED_{ref.upper()}_{kind.upper()}", f"cred_{ref}_{kind}")

        username, password = read("username"), read("password")
        if username and password:
            return Credentials(username, password)
        if self.environment == "production":
            raise ValueError(f"no credentials configured for department account {ref!r}")
        return Credentials(f"kaiban-{ref}", f"{ref}-dev-secret")

    def _secret(self, env: str, file: str) -> str | None:
        """A secret from the environment, else from a file in ``secrets_dir``; None when neither has it."""
        value = os.environ.get(env)
        if value:
            return value
        if self.secrets_dir:
            path = self.secrets_dir / file
            if path.is_file():
                return path.read_text(encoding="utf-8").strip() or None
        return None

    def token_entries(self) -> list[TokenEntry]:
        """The API tokens this deployment accepts: configured ones (setting and file), else the development ones."""
        entries = list(self.api_tokens)
        if self.api_tokens_file is not None:
            entries += read_token_file(self.api_tokens_file)
        if not entries and self.environment == "development":
            entries = list(DEV_TOKENS.values())
        return entries

    def callback_secret(self, code: str) -> str:
        """The secret a department signs its callbacks with: setting, environment, secret file, dev default."""
        secret = self.callback_secrets.get(code) or self._secret(
            f"KAIBAN_CALLBACK_SECRET_{code.upper()}", f"callback_{code}"
        )
        if secret:
            return secret
        if self.environment == "production":
            raise ValueError(f"no callback secret configured for department {code!r}")
        return dev_callback_secret(code)

    def production_problems(self) -> list[str]:
        """Why this configuration must not serve in production (empty: none). Checked when a service starts."""
        problems = []
        if self.payload_key == DEV_PAYLOAD_KEY:
            problems.append("the development payload key is configured (set KAIBAN_PAYLOAD_KEY)")
        try:
            entries = self.token_entries()
        except (OSError, ValueError) as exc:
            problems.append(f"the API token file cannot be read: {exc}")
            entries = []
        if any(e.sha256 in DEV_TOKEN_HASHES for e in entries):
            problems.append("a development API token is configured")
        if not entries and not self.oidc_enabled:
            problems.append("no API token and no OIDC provider is configured: nobody could sign in")
        for d in self.catalog().departments:
            ref = d.credentials_ref or d.code
            try:
                creds = self.credentials(ref)
                if creds.password == f"{ref}-dev-secret":
                    problems.append(f"department account {ref!r} has its development password")
            except ValueError as exc:
                problems.append(str(exc))
            if d.channel is not Channel.API:  # only API departments call back
                continue
            try:
                if self.callback_secret(d.code) == dev_callback_secret(d.code):
                    problems.append(f"department {d.code!r} has its development callback secret")
            except ValueError as exc:
                problems.append(str(exc))
        return problems

    def refuse_unsafe_production(self) -> None:
        """Raise (a service refuses to start) when production runs on a development default."""
        if self.environment != "production":
            return
        problems = self.production_problems()
        if problems:
            raise RuntimeError("refusing to start in production: " + "; ".join(problems))

    def timing(self) -> Timing:
        """The retry and polling policy a new application's workflow carries."""
        timing = Timing.model_validate(self.model_dump(include=set(Timing.model_fields)))
        return timing if self.sweep_enabled else timing.model_copy(update={"swept_poll_initial_s": None})

    def sweep_interval(self, code: str) -> float:
        """The department's pace: seconds between sweeps of its portal account while cases are in review."""
        return self.sweep_paces.get(code, self.sweep_interval_s)

    def api_token(self, ref: str) -> str:
        """Bearer token for an API department (its account's password)."""
        creds = self.credentials(ref)
        return creds.password


@lru_cache(maxsize=8)
def _read_catalog(path: Path) -> Catalog:
    return load_catalog(path.read_text(encoding="utf-8"))


def load_overrides(path: str | Path) -> dict[date, bool]:
    """Read a calendar override file (JSON for ``.json``, YAML otherwise) of ``{"YYYY-MM-DD": bool}``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return parse_overrides_text(text, source=str(path), is_json=path.suffix.lower() == ".json")


def load_arrangement(path: str | Path) -> YearArrangement:
    """Read one year's arrangement file (JSON for ``.json``, YAML otherwise); its name is its year."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping with holidays, workdays and source")
    try:
        return YearArrangement.model_validate({"year": int(path.stem), **data})
    except ValidationError as exc:
        raise ValueError(f"{path}: {arrangement_problems(exc)}") from None


@lru_cache(maxsize=8)
def _read_year_files(directory: Path | None) -> dict[int, YearArrangement]:
    if directory is None or not directory.is_dir():
        return {}
    files = sorted(
        p for p in directory.iterdir() if p.stem.isdigit() and p.suffix.lower() in (".yaml", ".yml", ".json")
    )
    return {a.year: a for a in map(load_arrangement, files)}


@lru_cache(maxsize=8)
def _read_calendar(overrides_path: Path | None, years: tuple[tuple[int, YearArrangement], ...] = ()) -> WorkingCalendar:
    overrides = load_overrides(overrides_path) if overrides_path is not None and overrides_path.is_file() else {}
    return WorkingCalendar(overrides=overrides, arrangements=dict(years))


@lru_cache
def get_settings() -> Settings:
    return Settings()
