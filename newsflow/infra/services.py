"""``newsflow infra up|down|status`` as functions: the order of the services and what each step needs.

Ports are checked for every requested service before anything starts, so a clash fails in
milliseconds instead of after a minute of downloads. One lock file per state dir keeps two
``infra`` commands from starting the same services at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from collections.abc import Iterator

from newsflow.errors import InfraError
from newsflow.infra import airflow_local, kafka_local, postgres_local
from newsflow.infra.processes import ServiceStatus
from newsflow.settings import Settings

log = logging.getLogger(__name__)


@contextlib.contextmanager
def state_lock(settings: Settings, timeout_s: float) -> Iterator[None]:
    """Exclusive lock on ``state_dir/infra.lock``; InfraError if another command holds it too long."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    path = settings.state_dir / "infra.lock"
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as exc:
                if time.monotonic() >= deadline:
                    raise InfraError(f"another `newsflow infra` command is running on {settings.state_dir}") from exc
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def up(
    settings: Settings, *, postgres: bool = False, airflow_services: bool = False, keep_paused: bool = False
) -> None:
    """Start Kafka (+ PostgreSQL, + Airflow services) and migrate Airflow's DB; harmless when running."""
    with state_lock(settings, settings.infra_install_timeout_s):
        kafka_local.check_ports(settings)
        if postgres:
            postgres_local.check_ports(settings)
        if airflow_services:
            airflow_local.check_ports(settings)
        kafka_local.start_kafka(settings)
        if postgres:
            postgres_local.start_postgres(settings)
        airflow_local.migrate_db(settings)
        if airflow_services:
            airflow_local.start_services(settings, keep_paused=keep_paused)


def down(settings: Settings) -> list[str]:
    """Stop everything newsflow started from this state dir; names what was stopped."""
    stopped: list[str] = []
    failures: list[str] = []
    steps = (
        ("airflow", lambda: [f"airflow {name}" for name in airflow_local.stop_services(settings)]),
        ("kafka", lambda: ["kafka"] if kafka_local.stop_kafka(settings) is not None else []),
        ("postgres", lambda: ["postgres"] if postgres_local.stop_postgres(settings) is not None else []),
    )
    with state_lock(settings, settings.infra_stop_timeout_s * 4):
        for name, stop in steps:
            try:  # one failing service must not keep the others running
                stopped.extend(stop())
            except InfraError as exc:
                failures.append(f"{name}: {exc}")
    if failures:
        raise InfraError("; ".join(failures))
    return stopped


def status(settings: Settings, *, check_imports: bool = True) -> list[ServiceStatus]:
    return [
        kafka_local.kafka_status(settings),
        postgres_local.postgres_status(settings),
        *airflow_local.airflow_status(settings, check_imports=check_imports),
    ]
