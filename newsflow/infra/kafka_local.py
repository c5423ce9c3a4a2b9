"""A one-node Kafka 4 broker (KRaft: broker and controller in one JVM) on loopback, without Docker.

The jars come from Maven Central through ``mvn`` into the user's cache, once per Kafka version;
configuration, data and logs live in ``state_dir/kafka``. The broker runs detached with a pid file.
"""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from newsflow.errors import ConfigError, InfraError, PortInUseError, ServiceNotReadyError
from newsflow.infra import kafka_dist, processes
from newsflow.infra.processes import ServiceStatus
from newsflow.settings import Settings

log = logging.getLogger(__name__)

HEAP = "-Xmx512m"
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class KafkaPaths:
    root: Path

    @classmethod
    def of(cls, settings: Settings) -> KafkaPaths:
        return cls(settings.state_dir / "kafka")

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def properties(self) -> Path:
        return self.root / "server.properties"

    @property
    def log4j(self) -> Path:
        return self.root / "log4j2.properties"

    @property
    def server_log(self) -> Path:
        return self.root / "server.log"

    @property
    def console_log(self) -> Path:
        return self.root / "console.log"  # the JVM's own stdout/stderr (crashes before log4j is up)

    @property
    def pid_file(self) -> Path:
        return self.root / "kafka.pid"


def broker_address(settings: Settings) -> tuple[str, int]:
    """Host and port of the local broker; only loopback makes sense for `infra up`."""
    try:
        host, port = processes.split_host_port(settings.kafka_bootstrap_servers)
    except ValueError as exc:
        raise ConfigError(f"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS: {exc}") from exc
    if host not in _LOOPBACK_HOSTS:
        raise ConfigError(
            f"`infra up` runs Kafka on loopback; NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS is {host}:{port}, "
            "expected 127.0.0.1:<port>"
        )
    return host, port


# --- rendering (pure) -----------------------------------------------------------------------------


def render_server_properties(settings: Settings, paths: KafkaPaths) -> str:
    host, port = broker_address(settings)
    cport = settings.kafka_controller_port
    lines = [
        "# written by `newsflow infra up`; edits are overwritten",
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{cport}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        f"advertised.listeners=PLAINTEXT://{host}:{port}",
        "controller.listener.names=CONTROLLER",
        "inter.broker.listener.name=PLAINTEXT",
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        f"log.dirs={paths.data}",
        f"num.partitions={settings.kafka_partitions}",
        # one node: every internal topic has a single replica
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=1",  # the first consumer group joins in well under a second
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "share.coordinator.state.topic.replication.factor=1",
        "share.coordinator.state.topic.min.isr=1",
        "group.initial.rebalance.delay.ms=0",
    ]
    return "\n".join(lines) + "\n"


def render_log4j2(paths: KafkaPaths) -> str:
    """log4j2 (properties format, needs no extra jar): everything to a size-capped server.log."""
    return f"""\
status = warn
name = newsflow-kafka
appender.server.type = RollingFile
appender.server.name = server
appender.server.fileName = {paths.server_log}
appender.server.filePattern = {paths.server_log}.%i
appender.server.layout.type = PatternLayout
appender.server.layout.pattern = [%d] %p %m (%c)%n
appender.server.policies.type = Policies
appender.server.policies.size.type = SizeBasedTriggeringPolicy
appender.server.policies.size.size = 20MB
appender.server.strategy.type = DefaultRolloverStrategy
appender.server.strategy.max = 3
rootLogger.level = INFO
rootLogger.appenderRef.server.ref = server
logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


def _java_cmd(java: str, libs: Path, paths: KafkaPaths, main: str, *args: str) -> list[str]:
    return [
        java, HEAP, "-XX:+ExitOnOutOfMemoryError", f"-Dlog4j2.configurationFile={paths.log4j}",
        "-cp", f"{libs}/*", main, *args,
    ]  # fmt: skip


def format_storage(java: str, libs: Path, paths: KafkaPaths, timeout_s: float) -> None:
    """Format the KRaft log dir once (a formatted dir has ``meta.properties``)."""
    if (paths.data / "meta.properties").exists():
        return

    def run(*args: str) -> str:
        cmd = _java_cmd(java, libs, paths, "kafka.tools.StorageTool", *args)
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise InfraError(f"kafka StorageTool {args[0]} did not finish within {timeout_s:.0f} s") from exc
        if out.returncode != 0:
            why = processes.error_line(out.stdout + out.stderr)
            raise InfraError(f"kafka StorageTool {args[0]} failed (exit {out.returncode}): {why}")
        return out.stdout.strip()

    cluster_id = run("random-uuid").splitlines()[-1].strip()
    run("format", "-t", cluster_id, "-c", str(paths.properties))
    log.info("formatted KRaft storage in %s (cluster %s)", paths.data, cluster_id)


# --- lifecycle --------------------------------------------------------------------------------------


def check_ports(settings: Settings) -> None:
    """Fail fast if the broker or controller port is held by something that is not our broker."""
    if processes.running_pid(KafkaPaths.of(settings).pid_file) is not None:
        return
    _, port = broker_address(settings)
    for name, number in (("Kafka", port), ("Kafka controller", settings.kafka_controller_port)):
        if not processes.port_free(number):
            raise PortInUseError(f"port 127.0.0.1:{number} ({name}) is taken by another process")


def _log_marks(paths: KafkaPaths) -> dict[Path, int]:
    """Current sizes of the broker's logs, so a failure is explained by this run's lines only."""
    return {path: processes.file_size(path) for path in (paths.server_log, paths.console_log)}


def _failure_summary(marks: dict[Path, int]) -> str:
    """One line out of the broker's logs (written since ``marks``) that most likely says why it failed."""
    # console.log holds what the JVM printed before log4j was up (bad options, missing classes)
    texts = [processes.read_tail(path, 256 * 1024, since=offset) for path, offset in marks.items()]
    text = "\n".join(t for t in texts if t)
    return processes.error_line(text) if text.strip() else "(the broker wrote no log)"


def _wait_ready(settings: Settings, paths: KafkaPaths, pid: int, marks: dict[Path, int]) -> None:
    from newsflow.kafka import list_topics  # late: kafka-python only for commands that talk to the broker

    _, port = broker_address(settings)

    def ready() -> bool:
        return processes.port_open(port) and list_topics(settings) is not None

    def died() -> bool:
        return not processes.pid_alive(pid)

    if processes.wait_until(ready, settings.infra_start_timeout_s, interval_s=0.5, give_up=died):
        return
    if died():
        raise ServiceNotReadyError(f"Kafka broker exited: {_failure_summary(marks)} (log: {paths.server_log})")
    raise ServiceNotReadyError(
        f"Kafka broker not ready after {settings.infra_start_timeout_s:.0f} s: "
        f"{_failure_summary(marks)} (log: {paths.server_log})"
    )


def start_kafka(settings: Settings) -> int:
    """Start (or find running) the local broker, wait until it answers and create the topics; its pid."""
    from newsflow.kafka import ensure_topics

    paths = KafkaPaths.of(settings)
    pid = processes.running_pid(paths.pid_file)
    started_now = pid is None
    marks = _log_marks(paths)
    if pid is not None:
        log.info("Kafka broker already running (pid %s)", pid)
    else:
        check_ports(settings)
        java = kafka_dist.find_java()
        libs = kafka_dist.ensure_jars(settings)
        paths.data.mkdir(parents=True, exist_ok=True)
        paths.properties.write_text(render_server_properties(settings, paths))
        paths.log4j.write_text(render_log4j2(paths))
        format_storage(java, libs, paths, settings.infra_start_timeout_s)
        cmd = _java_cmd(java, libs, paths, "kafka.Kafka", str(paths.properties))
        pid = processes.start_detached(cmd, pid_file=paths.pid_file, log_file=paths.console_log, cwd=paths.root)
        log.info("started Kafka broker (pid %s) on %s", pid, settings.kafka_bootstrap_servers)
    try:
        _wait_ready(settings, paths, pid, marks)
    except ServiceNotReadyError:
        if started_now:  # a broker that never became ready must not linger as an orphan
            processes.stop_from_pid_file(paths.pid_file, settings.infra_stop_timeout_s)
        raise
    ensure_topics(settings)
    return pid


def stop_kafka(settings: Settings) -> int | None:
    """Stop our broker if it runs; returns the pid that was stopped."""
    pid = processes.stop_from_pid_file(KafkaPaths.of(settings).pid_file, settings.infra_stop_timeout_s)
    if pid is not None:
        log.info("stopped Kafka broker (pid %s)", pid)
    return pid


def kafka_status(settings: Settings) -> ServiceStatus:
    from newsflow.kafka import list_topics

    paths = KafkaPaths.of(settings)
    host, port = broker_address(settings)
    address = f"{host}:{port} (controller :{settings.kafka_controller_port})"
    pid = processes.running_pid(paths.pid_file)
    if pid is None:
        taken = not processes.port_free(port)
        detail = "port in use by a process newsflow did not start" if taken else ""
        return ServiceStatus("kafka", "stopped", address=address, detail=detail)
    topics = list_topics(settings)
    if topics is None:
        detail = f"not answering yet; log {paths.server_log}"
    else:
        own = [t for t in topics if not t.startswith("__")]
        detail = f"{len(own)} topics; log {paths.server_log}"
    return ServiceStatus("kafka", "running", pid=pid, address=address, detail=detail)
