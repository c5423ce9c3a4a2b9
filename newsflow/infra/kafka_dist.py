"""Kafka's distribution for the local broker: a Java 17+ runtime and the jars, fetched once with Maven.

The jars land in ``${XDG_CACHE_HOME:-~/.cache}/newsflow/kafka-<version>/libs`` (shared by every
checkout); a marker file written after a successful fetch makes later runs skip ``mvn`` entirely.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from newsflow.errors import InfraError, MissingToolError
from newsflow.infra.processes import error_line
from newsflow.settings import Settings

log = logging.getLogger(__name__)

KAFKA_POM = Path(__file__).with_name("kafka-pom.xml")
MIN_JAVA = 17
_JAVA_INSTALL_HINT = "install Java 17+ (Debian: apt-get install openjdk-17-jre-headless)"


def parse_java_major(version_output: str) -> int | None:
    """Major version from ``java -version`` output: ``"17.0.15"`` → 17, ``"1.8.0_392"`` → 8."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


# --- tools and jars -------------------------------------------------------------------------------


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise MissingToolError(f"java not found on PATH: {_JAVA_INSTALL_HINT}")
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MissingToolError(f"`java -version` failed ({exc}): {_JAVA_INSTALL_HINT}") from exc
    major = parse_java_major(out.stderr + out.stdout)
    if major is None or major < MIN_JAVA:
        found = f"Java {major}" if major else "an unknown Java version"
        raise MissingToolError(f"{java} is {found}; Kafka 4 needs Java {MIN_JAVA}+: {_JAVA_INSTALL_HINT}")
    return java


def jar_cache_dir(version: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsflow" / f"kafka-{version}"


def ensure_jars(settings: Settings) -> Path:
    """The directory holding Kafka's runtime jars, fetched with ``mvn`` unless already complete."""
    version_dir = jar_cache_dir(settings.kafka_version)
    libs, marker = version_dir / "libs", version_dir / ".complete"
    if marker.exists() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise MissingToolError("mvn not found on PATH (needed once to fetch Kafka): apt-get install maven")
    # Fetch into a private folder and rename, so an interrupted fetch never looks complete.
    staging = version_dir / f"libs.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    cmd = [
        mvn, "-B", "-q", "-f", str(KAFKA_POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}", "-DincludeScope=runtime", f"-Dkafka.version={settings.kafka_version}",
    ]  # fmt: skip
    log.info("fetching Kafka %s jars from Maven Central into %s (once)", settings.kafka_version, libs)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=settings.infra_install_timeout_s)
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InfraError(f"mvn did not fetch Kafka's jars within {settings.infra_install_timeout_s:.0f} s") from exc
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        why = error_line(result.stdout + result.stderr)
        raise InfraError(f"mvn could not fetch Kafka {settings.kafka_version} (exit {result.returncode}): {why}")
    shutil.rmtree(libs, ignore_errors=True)
    staging.rename(libs)
    marker.write_text(f"{len(list(libs.glob('*.jar')))} jars\n")
    return libs
