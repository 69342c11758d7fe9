"""docker-compose.yaml, checked by Debian's compose parser (no Docker engine runs here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO

COMPOSE = shutil.which("docker-compose") or "docker-compose"


def _config(env_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMPOSE, "--env-file", str(env_file), "-f", str(REPO / "docker-compose.yaml"), "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )


def _text(value: str | list[str]) -> str:
    """A command in either compose notation (string or list) as one string."""
    return value if isinstance(value, str) else " ".join(value)


def _targets(volumes: list) -> list[str]:
    return [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in volumes]


def _host_ip(port: str | dict) -> str:
    return port["host_ip"] if isinstance(port, dict) else port.rsplit(":", 2)[0]


@pytest.fixture(scope="module")
def example_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """deploy/compose.env.example with every blank filled, as a user would."""
    lines = (REPO / "deploy" / "compose.env.example").read_text().splitlines()
    filled = [f"{ln}value-{i}" if ln.endswith("=") else ln for i, ln in enumerate(lines)]
    path = tmp_path_factory.mktemp("compose") / "compose.env"
    path.write_text("\n".join(filled) + "\n")
    return path


@pytest.fixture(scope="module")
def config(example_env: Path) -> dict:
    done = _config(example_env)
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_a_missing_secret_is_named(tmp_path: Path, example_env: Path) -> None:
    partial = tmp_path / "partial.env"
    partial.write_text(
        "\n".join(
            ln
            for ln in example_env.read_text().splitlines()
            if not ln.startswith("MARIADB_PASSWORD=")
        )
    )
    done = _config(partial)
    assert done.returncode != 0
    assert "set MARIADB_PASSWORD in .env" in done.stderr


def test_services(config: dict) -> None:
    assert set(config["services"]) == {
        "mariadb",
        "postgres",
        "redis",
        "airflow-init",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "airflow-worker",
        "airflow-worker-gpu-1",
        "dashboard",
        "metrics",
    }


def test_images_are_pinned(config: dict) -> None:
    images = {name: svc["image"] for name, svc in config["services"].items()}
    assert re.fullmatch(r"mariadb:11\.\d+\.\d+", images["mariadb"])
    assert re.fullmatch(r"postgres:16\.\d+(-\w+)?", images["postgres"])
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+(-\w+)?", images["redis"])
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile
    built = [n for n, s in config["services"].items() if "build" in s]
    assert sorted(built) == sorted(
        n for n in config["services"] if n.startswith(("airflow", "dash", "metrics"))
    )


def test_only_the_gpu_worker_holds_the_gpu_and_takes_gpu_tasks(config: dict) -> None:
    services = config["services"]
    holders = [n for n, s in services.items() if "deploy" in s]
    assert holders == ["airflow-worker-gpu-1"]
    gpu_worker = services["airflow-worker-gpu-1"]
    devices = gpu_worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert "--queues gpu --concurrency 1" in _text(gpu_worker["command"])
    assert "--queues default" in _text(services["airflow-worker"]["command"])


def test_init_migrates_both_databases_and_creates_the_pool(config: dict) -> None:
    init = config["services"]["airflow-init"]
    script = _text(init["command"])
    for step in (
        "airflow db migrate",
        "airflow pools import /opt/airflow/deploy/airflow-pools.json",
        "python -m wagglebot.core.db.migrate",
    ):
        assert step in script
    mounts = config["services"]["airflow-scheduler"]["volumes"]
    assert "/opt/airflow/deploy" in _targets(mounts)
    for name in ("airflow-scheduler", "airflow-worker-gpu-1", "dashboard"):
        wait = config["services"][name]["depends_on"]["airflow-init"]["condition"]
        assert wait == "service_completed_successfully"


def test_airflow_metadata_is_postgres_and_app_data_is_mariadb(config: dict) -> None:
    env = config["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["WAGGLE_DB_URL"].startswith("mysql+mysqldb://wagglebot:")
    assert "@mariadb:3306/wagglebot" in env["WAGGLE_DB_URL"]


def test_ports_bind_loopback_and_the_dashboard_gets_no_airflow_secrets(config: dict) -> None:
    published = {name: svc["ports"] for name, svc in config["services"].items() if svc.get("ports")}
    assert set(published) == {"airflow-api-server", "dashboard", "metrics"}
    for ports in published.values():
        assert all(_host_ip(p) == "127.0.0.1" for p in ports)
    dash_env = config["services"]["dashboard"]["environment"]
    assert not [k for k in dash_env if k.startswith("AIRFLOW__")]
    assert dash_env["WAGGLE_AIRFLOW_API_URL"] == "http://airflow-api-server:8080"
    # The reviewers' password hashes go to the dashboard alone.
    assert dash_env["WAGGLE_DASHBOARD_USERS"]
    others = [n for n, svc in config["services"].items() if n != "dashboard"]
    assert not [
        n
        for n in others
        if "WAGGLE_DASHBOARD_USERS" in (config["services"][n].get("environment") or {})
    ]


# What the native celery mode sets that a container deployment leaves to the image or to
# compose itself: where the API listens and how it is reached from a browser (ports:
# binds it to loopback), folders inside the image, the log-server ports that keep two
# native stacks on one machine apart, and tuning for a 2-core development box.
# Docker's healthcheck asks the scheduler's own health server; natively supervisord
# watches it and `status` reads Airflow's health endpoint.
COMPOSE_ONLY = {"airflow-scheduler": {"AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"}}
NATIVE_ONLY = {
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__BASE_URL",
    "AIRFLOW__API__WORKERS",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__PARALLELISM",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER",
    "AIRFLOW__LOGGING__DAG_PROCESSOR_CHILD_PROCESS_LOG_DIRECTORY",
    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
    "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL",
}


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory):
    """The native celery mode's services and Airflow environment, as `up` would start them."""
    from wagglebot_stack import Stack

    from conftest import make_settings

    home = tmp_path_factory.mktemp("native-celery")
    settings = make_settings(home).model_copy(update={"executor": "celery", "gpu_workers": 1})
    return Stack(settings)


def test_compose_runs_the_services_of_the_native_celery_mode(config: dict, native) -> None:
    from wagglebot_stack.airflow import COMPONENTS

    workers = native.airflow.workers()
    started = {
        "mariadb",
        native.airflow.postgres.name,
        native.airflow.redis.name,
        *(f"airflow-{c}" for c in COMPONENTS),
        *(w.name for w in workers),
        native.dashboard.name,
        native.metrics.name,
    }
    assert set(config["services"]) - {"airflow-init"} == started
    for worker in workers:  # the same queue and concurrency
        command = _text(config["services"][worker.name]["command"])
        assert f"--queues {worker.queue} --concurrency {worker.concurrency}" in command


def test_compose_sets_the_variables_of_the_native_celery_mode(config: dict, native) -> None:
    env = native.airflow.env()
    ours = {k for k in env if k.startswith("AIRFLOW__")} - NATIVE_ONLY
    for name in ("airflow-scheduler", "airflow-worker", "airflow-worker-gpu-1"):
        composed = config["services"][name]["environment"]
        assert sorted(ours - set(composed)) == [], name
        composed_only = COMPOSE_ONLY.get(name, set())
        airflow_vars = {k for k in composed if k.startswith("AIRFLOW__")} - composed_only
        assert sorted(airflow_vars) == sorted(ours), name
        for same in (
            "AIRFLOW__CORE__EXECUTOR",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE",
            "AIRFLOW__CORE__LOAD_EXAMPLES",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS",
        ):
            assert composed[same] == env[same], same
        for url, scheme in (
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://"),
            ("AIRFLOW__CELERY__BROKER_URL", "redis://"),
            ("AIRFLOW__CELERY__RESULT_BACKEND", "db+postgresql+psycopg2://"),
        ):
            assert env[url].startswith(scheme)
            assert composed[url].startswith(scheme)
        assert composed["WAGGLE_EXECUTOR"] == env["WAGGLE_EXECUTOR"] == "celery"
        assert composed["WAGGLE_GPU_WORKERS"] == env["WAGGLE_GPU_WORKERS"] == "1"


def test_no_secret_is_committed() -> None:
    text = (REPO / "docker-compose.yaml").read_text()
    pattern = r"^\s+[A-Z_]*(PASSWORD|SECRET|KEY)S?:\s*(\S+)"  # values, not *_FILE paths
    for match in re.finditer(pattern, text, re.MULTILINE):
        assert match.group(2).startswith("${"), match.group(0)


def test_every_long_running_service_restarts_and_says_whether_it_is_healthy(
    config: dict,
) -> None:
    """Docker's own supervision: a service that dies comes back (unless a person stopped
    it), and its healthcheck tells a hung one from a healthy one."""
    one_shot = {"airflow-init"}
    for name, service in config["services"].items():
        if name in one_shot:
            assert service["restart"] == "no"
            continue
        assert service["restart"] == "unless-stopped", name
        check = service.get("healthcheck", {})
        assert check.get("test"), name
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert not check.get("disable"), name
    scheduler = config["services"]["airflow-scheduler"]
    # Its health server, which the check asks, is off unless turned on.
    assert scheduler["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"
    for worker in ("airflow-worker", "airflow-worker-gpu-1"):
        test = _text(config["services"][worker]["healthcheck"]["test"])
        node = re.search(
            r"--celery-hostname (\S+)@%h", _text(config["services"][worker]["command"])
        )
        assert f'-d "{node[1]}@$${{HOSTNAME}}"' in test or f'-d "{node[1]}@${{HOSTNAME}}"' in test
