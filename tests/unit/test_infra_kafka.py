"""Pure parts of the local Kafka setup: rendered configuration, Java version parsing, jar cache."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from newsflow.errors import ConfigError, InfraError, MissingToolError
from newsflow.infra.kafka_dist import ensure_jars, find_java, jar_cache_dir, parse_java_major
from newsflow.infra.kafka_local import KafkaPaths, broker_address, render_log4j2, render_server_properties
from newsflow.settings import Settings


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    fields: dict[str, object] = {
        "state_dir": tmp_path / "state",
        "kafka_bootstrap_servers": "127.0.0.1:29092",
        "kafka_controller_port": 29093,
    }
    fields.update(overrides)
    return Settings(**fields)  # type: ignore[arg-type]


def _properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


def test_server_properties_describe_a_one_node_kraft_broker_on_loopback(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_partitions=3)
    paths = KafkaPaths.of(settings)
    props = _properties(render_server_properties(settings, paths))
    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:29093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29092"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    assert props["num.partitions"] == "3"
    assert Path(props["log.dirs"]) == settings.state_dir / "kafka" / "data"


def test_localhost_is_advertised_as_configured(tmp_path: Path) -> None:
    settings = _settings(tmp_path, kafka_bootstrap_servers="localhost:29092")
    props = _properties(render_server_properties(settings, KafkaPaths.of(settings)))
    assert props["advertised.listeners"] == "PLAINTEXT://localhost:29092"
    assert props["listeners"].startswith("PLAINTEXT://127.0.0.1:29092,")


@pytest.mark.parametrize("servers", ["kafka.example.org:9092", "10.0.0.5:9092", "no-port"])
def test_local_broker_refuses_non_loopback_or_malformed_addresses(tmp_path: Path, servers: str) -> None:
    with pytest.raises(ConfigError):
        broker_address(_settings(tmp_path, kafka_bootstrap_servers=servers))


def test_log4j2_config_writes_to_server_log_in_state_dir(tmp_path: Path) -> None:
    paths = KafkaPaths.of(_settings(tmp_path))
    text = render_log4j2(paths)
    assert f"appender.server.fileName = {paths.server_log}" in text
    assert paths.server_log == tmp_path / "state" / "kafka" / "server.log"


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('java version "1.8.0_392"', 8),
        ('openjdk version "11.0.22" 2024-01-16', 11),
        ('openjdk version "22-ea" 2024-03-19', 22),
        ("something else entirely", None),
    ],
)
def test_java_major_version_is_parsed(output: str, major: int | None) -> None:
    assert parse_java_major(output) == major


def _fake_program(folder: Path, name: str, script: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{script}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_missing_java_is_a_named_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(MissingToolError, match="java"):
        find_java()


def test_old_java_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_program(tmp_path / "bin", "java", "echo 'openjdk version \"11.0.22\" 2024-01-16' >&2")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(MissingToolError, match="Java 11"):
        find_java()


def test_jar_cache_follows_xdg_cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert jar_cache_dir("4.3.1") == tmp_path / "cache" / "newsflow" / "kafka-4.3.1"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert jar_cache_dir("4.3.1") == Path(os.path.expanduser("~/.cache/newsflow/kafka-4.3.1"))


def test_complete_jar_cache_needs_no_maven(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no mvn: it must not be asked
    libs = jar_cache_dir("4.3.1") / "libs"
    libs.mkdir(parents=True)
    (libs / "kafka_2.13-4.3.1.jar").write_bytes(b"")
    with pytest.raises(MissingToolError, match="mvn"):  # no marker yet: an interrupted fetch
        ensure_jars(_settings(tmp_path))
    (libs.parent / ".complete").write_text("1 jars\n")
    assert ensure_jars(_settings(tmp_path)) == libs


def test_failed_maven_fetch_leaves_no_partial_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a fetch that dies half-way: some jars are copied, then mvn fails
    script = """for arg in "$@"; do case "$arg" in -DoutputDirectory=*) out="${arg#-DoutputDirectory=}";; esac; done
mkdir -p "$out" && touch "$out/kafka_2.13-4.3.1.jar"
echo '[ERROR] Could not resolve dependencies'; exit 1"""
    _fake_program(tmp_path / "bin", "mvn", script)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")  # the fake mvn first
    with pytest.raises(InfraError, match="Could not resolve dependencies"):
        ensure_jars(_settings(tmp_path))
    version_dir = jar_cache_dir("4.3.1")
    assert not (version_dir / ".complete").exists()
    assert [p.name for p in version_dir.iterdir()] == []
