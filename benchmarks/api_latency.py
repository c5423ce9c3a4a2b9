"""REST API latency benchmark: topic list and topic detail over 1M articles and 20k topics in PostgreSQL.

Creates (``--fresh``: drops and recreates) the database ``--db`` (default ``newsflow_bench_api``) in
the project's local PostgreSQL cluster (port and user from Settings), migrates it, and fills it
with deterministic generated data through ``COPY``: ``--articles`` articles (default 1,000,000) by
``--outlets`` outlets in six languages over 30 days, each a member of one of ``--topics`` topics
(default 20,000; story sizes long-tailed), with per-topic hourly counts, outlets, languages,
keywords, a 384-dim centroid, a ``topic_growth`` row and lineage events. An existing database of
the same size is reused.

Then it serves ``create_app`` with uvicorn on loopback and times ``--requests`` sequential HTTP
requests (httpx, keep-alive) per scenario after a warm-up: the topic list (default sort, growth),
the list with filters, sorted by recency, keyword and semantic search (random centroids: the
ranking means nothing, the cost is real), the detail of random topics and of the largest ones,
and pages of the largest topics' articles.
Issue 5's target: p95 <= 100 ms for the list and the detail.

    python benchmarks/api_latency.py [--fresh] [--requests 300] [--articles 1000000] [--topics 20000]
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import psycopg
import uvicorn

from newsflow.api.app import create_app
from newsflow.settings import Settings
from newsflow.store.database import open_store

log = logging.getLogger("bench.api")
LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]
_VOCABULARY = """election vote storm market bank energy solar court trial strike rail football final budget tax health
vaccine war ceasefire summit climate flood fire earthquake police protest minister border trade chip airline oil gas
price school teacher hospital nurse film award music festival space launch"""
WORDS = _VOCABULARY.split()
START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 30
DIM = 384


# --- database -------------------------------------------------------------------------------------


def admin_dsn(settings: Settings, db: str = "postgres") -> str:
    return f"host=127.0.0.1 port={settings.postgres_port} user={settings.postgres_user} dbname={db}"


def prepare_database(settings: Settings, db: str, fresh: bool) -> None:
    with psycopg.connect(admin_dsn(settings), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone() is not None
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            exists = False
        if not exists:
            conn.execute(f'CREATE DATABASE "{db}"')


def row_counts(settings: Settings, db: str) -> tuple[int, int]:
    with psycopg.connect(admin_dsn(settings, db)) as conn:
        topics = conn.execute("SELECT count(*) FROM topics").fetchone()
        articles = conn.execute("SELECT count(*) FROM articles").fetchone()
    return (int(topics[0]) if topics else 0, int(articles[0]) if articles else 0)


# --- generated data -------------------------------------------------------------------------------


def topic_sizes(rng: np.random.Generator, topics: int, articles: int) -> np.ndarray:
    """Long-tailed story sizes (a few big stories, many small ones) summing to ``articles``, each >= 2."""
    weights = rng.pareto(1.2, topics) + 1.0
    sizes = np.maximum(2, np.floor(weights / weights.sum() * articles)).astype(np.int64)
    sizes[np.argmax(sizes)] += articles - sizes.sum()  # make the sum exact
    return sizes


def generate(rng: np.random.Generator, n_topics: int, n_articles: int, n_outlets: int) -> dict[str, Any]:
    sizes = topic_sizes(rng, n_topics, n_articles)
    topic_of = np.repeat(np.arange(1, n_topics + 1), sizes)
    starts = rng.uniform(0, DAYS * 24 - 1, n_topics)
    spans = rng.gamma(2.0, 18.0, n_topics)  # hours a story lasts
    offsets = starts[topic_of - 1] + rng.uniform(0, 1, n_articles) * spans[topic_of - 1]
    offsets = np.minimum(offsets, DAYS * 24 - 0.01)
    home_outlets = rng.integers(0, n_outlets, (n_topics, 8))  # a story is covered by up to 8 outlets
    outlet_of = home_outlets[topic_of - 1, rng.integers(0, 8, n_articles)]
    language_of = outlet_of % len(LANGUAGES)  # an outlet writes in one language
    return {"sizes": sizes, "topic_of": topic_of, "hours": offsets, "outlet_of": outlet_of, "lang_of": language_of}


def copy_articles(conn: psycopg.Connection[Any], data: dict[str, Any], rng: np.random.Generator) -> None:
    columns = ("id, url, title, summary, content, published_at, published_is_fallback, fetched_at, language, "
               "outlet, feed_name, guid, revision, content_hash, stored_at")  # fmt: skip
    words = np.array(WORDS)
    title_words = words[rng.integers(0, len(WORDS), (len(data["topic_of"]), 6))]
    with conn.cursor() as cur, cur.copy(f"COPY articles ({columns}) FROM STDIN") as copy:
        for i in range(len(data["topic_of"])):
            at = START + timedelta(hours=float(data["hours"][i]))
            outlet = f"Outlet {int(data['outlet_of'][i]):03d}"
            title = " ".join(title_words[i]).capitalize()
            aid = f"a{i:07d}"
            copy.write_row((aid, f"https://news.example/{aid}", title, f"{title}. Generated summary of article {i}.",
                            "", at, False, at, LANGUAGES[int(data["lang_of"][i])], outlet, outlet.lower(), aid, 1,
                            f"{i:064x}", at))  # fmt: skip
            if i % 200_000 == 0:
                log.info("articles: %d", i)


def copy_memberships(conn: psycopg.Connection[Any], data: dict[str, Any]) -> None:
    with (
        conn.cursor() as cur,
        cur.copy("COPY topic_memberships (article_id, topic_id, similarity, method, assigned_at) FROM STDIN") as copy,
    ):
        for i, topic in enumerate(data["topic_of"]):
            copy.write_row((f"a{i:07d}", int(topic), 0.8, "online", START + timedelta(hours=float(data["hours"][i]))))


def topic_rows(data: dict[str, Any], rng: np.random.Generator) -> Iterator[tuple[Any, ...]]:
    order = np.argsort(data["topic_of"], kind="stable")
    bounds = np.concatenate([[0], np.cumsum(data["sizes"])])
    status = rng.choice(["active", "faded", "merged"], len(data["sizes"]), p=[0.7, 0.25, 0.05])
    updated = START + timedelta(days=DAYS)
    for t in range(len(data["sizes"])):
        idx = order[bounds[t] : bounds[t + 1]]
        hours = data["hours"][idx]
        keys, counts = np.unique((START.timestamp() // 3600 + np.floor(hours)).astype(np.int64), return_counts=True)
        hourly = {datetime.fromtimestamp(int(k) * 3600, UTC).strftime("%Y-%m-%dT%H"): int(c)
                  for k, c in zip(keys, counts, strict=True)}  # fmt: skip
        outlets = sorted({f"Outlet {int(o):03d}" for o in data["outlet_of"][idx]})
        languages = sorted({LANGUAGES[int(lang)] for lang in data["lang_of"][idx]})
        keywords = [WORDS[int(k)] for k in rng.choice(len(WORDS), 6, replace=False)]
        centroid = rng.normal(size=DIM).astype("<f4")
        tid = t + 1
        merged_into = max(1, tid - 1) if status[t] == "merged" else None
        yield (tid, " ".join(keywords[:3]), json.dumps(keywords), f"Story {tid}: {' '.join(keywords).capitalize()}",
               json.dumps([f"a{int(i):07d}" for i in idx[:3]]), str(status[t]), merged_into,
               START + timedelta(hours=float(hours.min())), START + timedelta(hours=float(hours.max())), len(idx),
               len(outlets), json.dumps(outlets), json.dumps(languages), json.dumps(hourly),
               (centroid / np.linalg.norm(centroid)).tobytes(), updated)  # fmt: skip


def copy_topics(conn: psycopg.Connection[Any], data: dict[str, Any], rng: np.random.Generator) -> None:
    columns = (
        "id, label, keywords, representative_title, representative_ids, status, merged_into, first_seen, "
        "last_seen, article_count, outlet_count, outlets, languages, hourly_counts, centroid, updated_at"
    )
    with conn.cursor() as cur, cur.copy(f"COPY topics ({columns}) FROM STDIN") as copy:
        for row in topic_rows(data, rng):
            copy.write_row(row)
    growth_cols = "topic_id, recent_count, recent_outlets, baseline_rate, z_score, growth_score, evaluated_at"
    evaluated = START + timedelta(days=DAYS)
    with conn.cursor() as cur, cur.copy(f"COPY topic_growth ({growth_cols}) FROM STDIN") as copy:
        for tid in range(1, len(data["sizes"]) + 1):
            z = float(rng.normal(0.0, 1.5))
            copy.write_row((tid, int(rng.integers(0, 30)), int(rng.integers(0, 8)), float(rng.uniform(0, 5)), z,
                            max(0.0, z) * float(rng.uniform(1, 3)), evaluated))  # fmt: skip
    event_cols = "topic_id, kind, related, article_count, label, at"
    with conn.cursor() as cur, cur.copy(f"COPY lineage_events ({event_cols}) FROM STDIN") as copy:
        for tid in range(1, len(data["sizes"]) + 1):
            copy.write_row((tid, "born", "[]", 2, f"story {tid}", START + timedelta(hours=tid % 700)))
            if tid % 10 == 0:
                copy.write_row((tid, "merged", json.dumps([tid + 1]), 20, f"story {tid}", START + timedelta(days=3)))
            if tid % 25 == 0:
                copy.write_row((tid, "split", json.dumps([tid + 2, tid + 3]), 30, f"story {tid}",
                                START + timedelta(days=4)))  # fmt: skip


def fill(settings: Settings, db: str, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    started = time.monotonic()
    data = generate(rng, args.topics, args.articles, args.outlets)
    with psycopg.connect(admin_dsn(settings, db)) as conn:
        copy_articles(conn, data, rng)
        copy_topics(conn, data, rng)
        copy_memberships(conn, data)
        conn.commit()
    with psycopg.connect(admin_dsn(settings, db), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    log.info("generated %d articles, %d topics in %.0f s", args.articles, args.topics, time.monotonic() - started)


# --- timing ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(settings: Settings) -> tuple[uvicorn.Server, str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start in 30 s")
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def measure(client: httpx.Client, make_path: Callable[[], str], n: int, warmup: int = 10) -> np.ndarray:
    for _ in range(warmup):
        client.get(make_path()).raise_for_status()
    times = []
    for _ in range(n):
        path = make_path()
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return np.array(times)


def largest_topics(settings: Settings, db: str, n: int = 20) -> list[int]:
    with psycopg.connect(admin_dsn(settings, db)) as conn:
        rows = conn.execute("SELECT id FROM topics ORDER BY article_count DESC LIMIT %s", (n,)).fetchall()
    return [int(r[0]) for r in rows]


def scenarios(rng: np.random.Generator, n_topics: int, big: list[int]) -> dict[str, Callable[[], str]]:
    def detail() -> str:
        return f"/api/v1/topics/{int(rng.integers(1, n_topics + 1))}"

    def big_detail() -> str:
        return f"/api/v1/topics/{big[int(rng.integers(0, len(big)))]}"

    def big_articles() -> str:
        return f"/api/v1/topics/{big[int(rng.integers(0, len(big)))]}/articles?offset={int(rng.integers(0, 20)) * 50}"

    def list_page() -> str:
        return f"/api/v1/topics?offset={int(rng.integers(0, 10)) * 50}"

    return {
        "list (sort=growth, first page)": lambda: "/api/v1/topics",
        "list (sort=growth, pages 1-10)": list_page,
        "list (language=de&min_size=20)": lambda: "/api/v1/topics?language=de&min_size=20",
        "list (outlet, since, growing)": lambda: (
            f"/api/v1/topics?outlet=Outlet%20{int(rng.integers(0, 200)):03d}&since=2026-01-20T00:00:00Z&growing=true"
        ),
        "list (sort=recent, status=all)": lambda: "/api/v1/topics?sort=recent&status=all",
        "search (keyword)": lambda: f"/api/v1/topics/search?q={WORDS[int(rng.integers(0, len(WORDS)))]}",
        "search (semantic)": lambda: (
            f"/api/v1/topics/search?mode=semantic&q=news+about+{WORDS[int(rng.integers(0, len(WORDS)))]}"
        ),
        "detail (random id)": detail,
        "detail (20 largest topics)": big_detail,
        "articles page (20 largest topics)": big_articles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="newsflow_bench_api")
    parser.add_argument("--fresh", action="store_true", help="drop and regenerate the database")
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--topics", type=int, default=20_000)
    parser.add_argument("--outlets", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300, help="timed requests per scenario")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--only", default="", help="run only the scenarios whose name contains this text")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    base = Settings()
    settings = base.model_copy(update={"database_url": f"{base.postgres_url.rsplit('/', 1)[0]}/{args.db}",
                                       "api_keys": []})  # fmt: skip
    prepare_database(settings, args.db, args.fresh)
    open_store(settings).dispose()  # migrations
    if row_counts(settings, args.db) != (args.topics, args.articles):
        if any(row_counts(settings, args.db)):
            raise SystemExit(f"{args.db} holds other data: rerun with --fresh")
        fill(settings, args.db, args)
    server, url = serve(settings)
    rng = np.random.default_rng(args.seed + 1)
    print(f"\nAPI latency, {args.articles:,} articles / {args.topics:,} topics, {args.requests} requests each (ms)")
    print(f"{'scenario':<36}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}")
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, make_path in scenarios(rng, args.topics, largest_topics(settings, args.db)).items():
            if args.only not in name:
                continue
            ms = measure(client, make_path, args.requests)
            p50, p95, p99 = np.percentile(ms, [50, 95, 99])
            print(f"{name:<36}{p50:>8.1f}{p95:>8.1f}{p99:>8.1f}{ms.max():>8.1f}", flush=True)
    server.should_exit = True


if __name__ == "__main__":
    main()
