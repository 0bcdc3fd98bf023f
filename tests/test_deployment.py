"""Static checks of the production deployment files (no Docker engine runs on these machines)."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]


def test_compose_has_the_production_stack():
    assert {"postgresql", "temporal", "temporal-ui", "api", "worker", "robot"} <= set(SERVICES)
    assert SERVICES["postgresql"]["image"].startswith("postgres:")
    assert SERVICES["temporal"]["image"].startswith("temporalio/")
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")


def test_temporal_persists_in_postgresql():
    env = SERVICES["temporal"]["environment"]
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"
    assert SERVICES["temporal"]["depends_on"]["postgresql"]["condition"] == "service_healthy"
    volumes = SERVICES["postgresql"]["volumes"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes)
    assert volumes[0].split(":")[0] in COMPOSE["volumes"]
    assert SERVICES["temporal-ui"]["environment"]["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_kaiban_services_run_real_entry_points():
    import importlib.util

    commands = {name: SERVICES[name]["command"] for name in ("api", "worker", "robot", "simulators")}
    for name, cmd in commands.items():
        assert cmd[:2] == ["python", "-m"], name
        module = cmd[2] if cmd[2] != "uvicorn" else cmd[cmd.index("--factory") + 1].split(":")[0]
        assert importlib.util.find_spec(module) is not None, (name, module)
    assert commands["worker"][-2:] == ["--role", "orchestration"]
    assert commands["robot"][-2:] == ["--role", "robots"]
    factory = commands["api"][commands["api"].index("--factory") + 1]
    mod, func = factory.split(":")
    assert callable(getattr(importlib.import_module(mod), func))


def test_kaiban_services_are_configured_for_production():
    for name in ("api", "worker", "robot"):
        env = SERVICES[name]["environment"]
        assert env["KAIBAN_ENVIRONMENT"] == "production"
        assert env["KAIBAN_TEMPORAL_ADDRESS"] == "temporal:7233"
        # secrets must be supplied, never defaulted
        assert re.fullmatch(r"\$\{KAIBAN_PAYLOAD_KEY:\?.+\}", env["KAIBAN_PAYLOAD_KEY"])
        assert SERVICES[name]["depends_on"]["temporal"]["condition"] == "service_healthy"
        assert env["KAIBAN_INQUIRE_IN_WORKING_HOURS_ONLY"] == "true"
        # production signs people in through the province's OIDC provider: required, never defaulted
        assert re.fullmatch(r"\$\{KAIBAN_OIDC_ISSUER:\?.+\}", env["KAIBAN_OIDC_ISSUER"])
        assert re.fullmatch(r"\$\{KAIBAN_OIDC_JWKS_URL:\?.+\}", env["KAIBAN_OIDC_JWKS_URL"])
    assert "8000:8000" in SERVICES["api"]["ports"]
    assert SERVICES["simulators"]["profiles"] == ["simulators"]


def test_environment_keys_are_real_settings():
    from runtime.settings import Settings

    fields = {f"KAIBAN_{name.upper()}" for name in Settings.model_fields}
    fields |= AWS_KEYS  # read by boto3 (the S3 object storage's credentials), not by kaiban's settings
    for name in ("api", "worker", "robot", "ocr"):
        for key in SERVICES[name]["environment"]:
            assert key in fields, f"{name}: {key} is not a kaiban setting"


#: the standard AWS variables the compose file may set (boto3 reads them); never a key itself
AWS_KEYS = {"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_DEFAULT_REGION"}


def test_every_service_reads_and_writes_the_same_object_storage():
    """The API stores uploads, the workers read them for OCR, the robots and the API departments: one URL."""
    urls = {SERVICES[name]["environment"]["KAIBAN_OBJECTS_URL"] for name in ("api", "worker", "robot", "ocr")}
    assert urls == {"${KAIBAN_OBJECTS_URL:-file:///app/data/objects}"}
    default = re.fullmatch(r"\$\{KAIBAN_OBJECTS_URL:-(.+)\}", urls.pop())
    assert default and default.group(1).startswith("file:///app/data/"), "the default must be on the shared volume"
    from store.objects import FolderObjects, open_objects

    assert isinstance(open_objects(default.group(1)), FolderObjects)
    for name in ("api", "worker", "robot", "ocr"):
        env = SERVICES[name]["environment"]
        assert env["AWS_SHARED_CREDENTIALS_FILE"].startswith("/run/secrets/"), name
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(env), f"{name}: a key in the compose file"


def test_dockerfile_installs_locked_dependencies_and_a_browser():
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.1[1-9]", text, re.M)
    assert "--require-hashes -r requirements.lock" in text
    assert "chromium" in text
    # receipts and pages in Chinese, rare characters outside the BMP (𬱖) included
    assert "fonts-noto-cjk" in text and "fonts-hanazono" in text
    assert "USER kaiban" in text


def test_ci_runs_make_lint_then_make_test():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert lines.index("make lint") < lines.index("make test")


def test_api_and_workers_share_one_kaiban_database_in_the_compose_postgresql():
    from sqlalchemy.engine import make_url

    urls = {name: SERVICES[name]["environment"]["KAIBAN_DATABASE_URL"] for name in ("api", "worker", "robot")}
    assert len(set(urls.values())) == 1, urls  # one database for every host
    url = make_url(re.sub(r"\$\{POSTGRES_KAIBAN_PASSWORD:\?[^}]+\}", "secret", urls["api"]))
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database, url.username) == ("postgresql", 5432, "kaiban", "kaiban")
    # the password is supplied, never defaulted, and is the one the database's role is created with
    assert re.search(r":\$\{POSTGRES_KAIBAN_PASSWORD:\?.+\}@", urls["api"])
    assert SERVICES["postgresql"]["environment"]["POSTGRES_KAIBAN_PASSWORD"].startswith("${POSTGRES_KAIBAN_PASSWORD:?")
    # not Temporal's databases (temporal, temporal_visibility), which auto-setup owns
    assert url.database not in ("temporal", "temporal_visibility", SERVICES["temporal"]["environment"].get("DBNAME"))
    for name in ("api", "worker", "robot"):
        assert SERVICES[name]["depends_on"]["postgresql"]["condition"] == "service_healthy", name


def test_kaiban_database_is_created_by_an_init_script():
    mounts = [v for v in SERVICES["postgresql"]["volumes"] if ":/docker-entrypoint-initdb.d/" in v]
    assert len(mounts) == 1, SERVICES["postgresql"]["volumes"]
    source, target = mounts[0].split(":")[:2]
    script = ROOT / source
    assert script.is_file() and script.suffix == ".sh" and target.endswith(script.name)
    text = script.read_text(encoding="utf-8")
    assert "CREATE ROLE kaiban LOGIN" in text and "CREATE DATABASE kaiban OWNER kaiban" in text
    assert "POSTGRES_KAIBAN_PASSWORD" in text
    # init scripts run on a socket-only server: health over TCP means they have finished
    assert "-h 127.0.0.1" in " ".join(SERVICES["postgresql"]["healthcheck"]["test"])
    # the image copies the tree, migrations included (the services migrate at start)
    assert "COPY . ." in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert (ROOT / "store" / "migrations" / "env.py").is_file()


def test_api_and_workers_share_the_data_volume():
    for name in ("api", "worker", "robot"):
        assert "kaiban-data:/app/data" in SERVICES[name]["volumes"], name
        assert SERVICES[name]["environment"]["KAIBAN_DATA_DIR"] == "/app/data"
    assert "kaiban-data" in COMPOSE["volumes"]
