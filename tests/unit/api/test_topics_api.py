"""``/api/v1`` topics, auth, health and validation over the small known SQLite store."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, update

from newsflow.api.app import create_app
from newsflow.settings import Settings
from newsflow.store.database import open_store
from newsflow.store.schema import articles, topics
from tests.unit.api.conftest import API_KEY
from tests.unit.query.dataset import FILLER_IDS, T0, Dataset

TOPICS = "/api/v1/topics"


def ids(response_json: dict) -> list[int]:  # type: ignore[type-arg]
    return [item["id"] for item in response_json["items"]]


# --- keys and health ----------------------------------------------------------------------------------


def test_health_needs_no_key(client: TestClient) -> None:
    response = client.get("/api/v1/health", headers={"X-API-Key": ""})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok" and body["store"] == "ok" and body["version"]


def test_missing_key_is_401_and_unknown_key_403(client: TestClient) -> None:
    missing = client.get(TOPICS, headers={"X-API-Key": ""})
    assert missing.status_code == 401 and missing.json() == {"detail": "missing API key"}
    wrong = client.get(TOPICS, headers={"X-API-Key": "not-the-key"})
    assert wrong.status_code == 403 and wrong.json() == {"detail": "invalid API key"}
    wrong_bearer = client.get(TOPICS, headers={"X-API-Key": "", "Authorization": "Bearer nope"})
    assert wrong_bearer.status_code == 403
    bearer = client.get(TOPICS, headers={"X-API-Key": "", "Authorization": f"Bearer {API_KEY}"})
    assert bearer.status_code == 200
    assert client.get(f"{TOPICS}/1", headers={"X-API-Key": ""}).status_code == 401


def test_unreachable_store_is_degraded_health_and_503(keyed_settings: Settings, dataset: Dataset) -> None:
    app = create_app(keyed_settings)
    app.state.engine = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 2}
    )
    with TestClient(app, headers={"X-API-Key": API_KEY}) as down:
        health = down.get("/api/v1/health").json()
        assert health["status"] == "degraded" and health["store"] == "OperationalError"
        response = down.get(TOPICS)
    assert response.status_code == 503 and "store unavailable" in response.json()["detail"]
    assert "nobody" not in response.text  # the driver's message (hosts, users) stays in the log


def test_no_configured_keys_means_no_key_needed(settings: Settings, dataset: Dataset) -> None:
    with TestClient(create_app(settings)) as open_client:
        assert open_client.get(TOPICS).status_code == 200


# --- validation and 404 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"{TOPICS}?limit=0", "limit"),
        (f"{TOPICS}?limit=201", "limit"),
        (f"{TOPICS}?offset=-1", "offset"),
        (f"{TOPICS}?since=notadate", "since"),
        (f"{TOPICS}?sort=bogus", "sort"),
        (f"{TOPICS}?status=gone", "status"),
        (f"{TOPICS}?min_size=0", "min_size"),
        (f"{TOPICS}?growing=maybe", "growing"),
        (f"{TOPICS}/search", "q"),
        (f"{TOPICS}/search?q=" + "x" * 501, "q"),
        (f"{TOPICS}/search?q=vote&mode=fuzzy", "mode"),
        (f"{TOPICS}/abc", "topic_id"),
        (f"{TOPICS}/1/timeline?hours=0", "hours"),
        (f"{TOPICS}/1/timeline?hours=100000", "hours"),
    ],
)
def test_bad_parameter_is_422_naming_the_field(client: TestClient, path: str, field: str) -> None:
    response = client.get(path)
    assert response.status_code == 422, response.text
    assert any(error["loc"][-1] == field for error in response.json()["detail"])


@pytest.mark.parametrize("suffix", ["", "/articles", "/timeline", "/lineage"])
def test_unknown_topic_is_404(client: TestClient, suffix: str) -> None:
    response = client.get(f"{TOPICS}/9999{suffix}")
    assert response.status_code == 404
    assert "9999" in response.json()["detail"]


# --- list, sort, filters, pagination --------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["growth", "recent", "size"])
def test_sorted_list_matches_the_contract_and_pages_are_stable(client: TestClient, dataset: Dataset, sort: str) -> None:
    full = client.get(TOPICS, params={"sort": sort, "limit": 200}).json()
    assert ids(full) == dataset.expected_ids(sort) and full["total"] == len(ids(full))
    paged: list[int] = []
    for offset in range(0, full["total"], 4):
        page = client.get(TOPICS, params={"sort": sort, "limit": 4, "offset": offset}).json()
        assert page["limit"] == 4 and page["offset"] == offset and page["total"] == full["total"]
        paged += ids(page)
    assert paged == ids(full) and len(set(paged)) == len(paged)


def test_page_past_the_end_is_empty_with_the_total(client: TestClient, dataset: Dataset) -> None:
    body = client.get(TOPICS, params={"offset": 500}).json()
    assert body["items"] == [] and body["total"] == len(dataset.expected_ids()) and body["offset"] == 500


def test_default_sort_is_growth_with_ties_broken_by_id(client: TestClient) -> None:
    listed = ids(client.get(TOPICS, params={"limit": 200}).json())
    assert listed[:3] == [1, 5, 2]  # growth scores 5.0, 2.0, 1.0
    fillers = [t for t in listed if t in FILLER_IDS]  # same growth (none) and same last_seen
    assert fillers == sorted(FILLER_IDS)


def test_summary_fields_and_sparkline(client: TestClient, dataset: Dataset) -> None:
    body = client.get(TOPICS, params={"limit": 1}).json()
    assert body["as_of"].startswith(dataset.as_of.isoformat()[:16])
    top = body["items"][0]
    assert top["id"] == 1 and top["outlets"] == ["Alpha News", "Beta Times"] and top["languages"] == ["en"]
    assert top["growth"]["growth_score"] == 5.0 and top["growth"]["z_score"] == 4.0
    assert len(top["sparkline"]) == 24
    window_start = dataset.as_of.replace(minute=0) - timedelta(hours=23)
    in_window = [a for a in dataset.articles_of[1] if a["published_at"] >= window_start]
    assert sum(top["sparkline"]) == len(in_window) == 6
    assert top["sparkline"][-1] == 0  # the last hour (10:00) has articles of topic 2 only


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"language": "de"}, {2}),
        ({"outlet": "Beta Times"}, {1, 5}),
        ({"min_size": 3}, {1, 2}),
        ({"growing": "true"}, {1}),
        ({"status": "faded"}, {3}),
        ({"status": "merged"}, {4}),
        ({"since": (T0 + timedelta(hours=7, minutes=30)).isoformat()}, {2}),
        ({"until": (T0 + timedelta(minutes=50)).isoformat()}, {1}),
        ({"q": "recount"}, {5}),
        ({"language": "fr", "status": "all"}, {3}),
        ({"outlet": "Alpha News", "min_size": 5}, {1}),
    ],
)
def test_each_filter_narrows_the_list(client: TestClient, params: dict, expected: set[int]) -> None:  # type: ignore[type-arg]
    body = client.get(TOPICS, params={**params, "limit": 200}).json()
    assert set(ids(body)) == expected and body["total"] == len(expected)


# --- detail, articles, timeline, lineage ----------------------------------------------------------------


def test_topic_detail(client: TestClient, dataset: Dataset) -> None:
    detail = client.get(f"{TOPICS}/1").json()
    members = dataset.articles_of[1]
    hourly = Counter(a["published_at"].hour for a in members)
    assert [p["count"] for p in detail["growth_series"]] == [hourly.get(h, 0) for h in range(6)]
    assert 0 in [p["count"] for p in detail["growth_series"]]  # the gaps are filled with zeros
    assert detail["growth_series"][0]["hour"].startswith("2026-03-01T00:00")
    outlets = [(g["outlet"], len(g["articles"])) for g in detail["articles_by_outlet"]]
    assert outlets == [("Alpha News", 4), ("Beta Times", 2)] and detail["articles_total"] == 6
    alpha = detail["articles_by_outlet"][0]["articles"]
    assert [a["published_at"] for a in alpha] == sorted((a["published_at"] for a in alpha), reverse=True)
    assert all(len(a["summary"]) == 300 for a in alpha)  # the dataset's summaries are longer
    assert set(alpha[0]) == {"id", "title", "url", "outlet", "published_at", "language", "summary"}
    assert [e["kind"] for e in detail["lineage"]] == ["born", "merged", "split"]
    assert detail["merged_from"] == [4] and detail["split_into"] == [5] and detail["split_from"] == []
    assert detail["representative_ids"] == ["a1", "a2"]


def test_detail_articles_are_bounded(keyed_settings: Settings, dataset: Dataset) -> None:
    bounded = keyed_settings.model_copy(update={"api_max_articles_per_topic": 3, "api_max_timeline_hours": 2})
    with TestClient(create_app(bounded), headers={"X-API-Key": API_KEY}) as small:
        detail = small.get(f"{TOPICS}/1").json()
    shown = [a["id"] for g in detail["articles_by_outlet"] for a in g["articles"]]
    assert sorted(shown) == ["a4", "a5", "a6"] and detail["articles_total"] == 6  # the newest three
    assert [p["hour"][11:16] for p in detail["growth_series"]] == ["04:00", "05:00"]


def test_articles_pages_and_outlet_filter(client: TestClient, dataset: Dataset) -> None:
    newest_first = sorted(dataset.articles_of[1], key=lambda a: a["published_at"], reverse=True)
    first = client.get(f"{TOPICS}/1/articles", params={"limit": 4}).json()
    second = client.get(f"{TOPICS}/1/articles", params={"limit": 4, "offset": 4}).json()
    assert [a["id"] for a in first["items"] + second["items"]] == [a["id"] for a in newest_first]
    assert first["total"] == 6
    beta = client.get(f"{TOPICS}/1/articles", params={"outlet": "Beta Times"}).json()
    assert {a["id"] for a in beta["items"]} == {"a3", "a6"} and beta["total"] == 2


def test_timeline_and_lineage(client: TestClient) -> None:
    timeline = client.get(f"{TOPICS}/1/timeline", params={"hours": 3}).json()
    assert timeline["topic_id"] == 1 and [p["count"] for p in timeline["series"]] == [1, 0, 2]
    lineage = client.get(f"{TOPICS}/5/lineage").json()
    assert lineage["split_from"] == [1] and lineage["merged_from"] == [] and lineage["events"][0]["kind"] == "born"
    merged = client.get(f"{TOPICS}/4").json()
    assert merged["status"] == "merged" and merged["merged_into"] == 1


# --- keyword search -------------------------------------------------------------------------------------


def test_keyword_search_ranks_and_scores(client: TestClient) -> None:
    body = client.get(f"{TOPICS}/search", params={"q": "election"}).json()
    assert body["mode"] == "keyword" and set(ids(body)) == {1, 5}  # 4 was merged into 1: empty, not listed
    assert set(ids(client.get(f"{TOPICS}/search", params={"q": "election", "status": "all"}).json())) == {1, 4, 5}
    scores = [item["score"] for item in body["items"]]
    assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
    both = client.get(f"{TOPICS}/search", params={"q": "election recount"}).json()
    assert ids(both) == [5]  # every word must match


def test_keyword_search_matches_non_ascii_keywords(client: TestClient) -> None:
    assert ids(client.get(f"{TOPICS}/search", params={"q": "Tempête"}).json()) == [3]


@pytest.mark.parametrize(("q", "expected"), [("100%", [6]), ("%", [6]), ("_", []), ("0% s", [6])])
def test_like_wildcards_in_search_are_literal(client: TestClient, q: str, expected: list[int]) -> None:
    assert ids(client.get(f"{TOPICS}/search", params={"q": q}).json()) == expected


@pytest.mark.parametrize("q", ["'; DROP TABLE topics; --", "election' OR '1'='1", '" OR 1=1 --'])
def test_injection_looking_search_is_just_text(client: TestClient, keyed_settings: Settings, q: str) -> None:
    response = client.get(f"{TOPICS}/search", params={"q": q})
    assert response.status_code == 200 and response.json()["items"] == []
    listed = client.get(TOPICS, params={"q": q})
    assert listed.status_code == 200 and listed.json()["total"] == 0
    with open_store(keyed_settings).connect() as conn:
        assert conn.execute(select(func.count()).select_from(topics)).scalar_one() == 26
        assert conn.execute(select(func.count()).select_from(articles)).scalar_one() == 14


# --- semantic search (the real bundled model) -------------------------------------------------------------


@pytest.mark.slow
def test_semantic_search_ranks_the_matching_topic_first(client: TestClient, keyed_settings: Settings) -> None:
    encoder = client.app.state.query_encoder  # type: ignore[attr-defined]
    engine = open_store(keyed_settings)
    with engine.connect() as conn:
        rows = conn.execute(select(topics.c.id, topics.c.label, topics.c.representative_title)).all()
    vectors = encoder.encode([f"{r.label}. {r.representative_title}" for r in rows])
    with engine.begin() as conn:  # centroids of the real model, as the worker would have stored them
        for row, vector in zip(rows, vectors, strict=True):
            conn.execute(
                update(topics)
                .where(topics.c.id == row.id)
                .values(centroid=vector.tobytes(), updated_at=T0 + timedelta(days=1))
            )
    queries = {"which team won the cup final with a late goal": 2, "solar panels power a whole town": 6,
               "votes are counted again in some districts": 5}  # fmt: skip
    for text, expected in queries.items():
        body = client.get(f"{TOPICS}/search", params={"q": text, "mode": "semantic", "limit": 3}).json()
        assert body["mode"] == "semantic" and ids(body)[0] == expected, (text, body["items"])
        assert body["items"][0]["score"] > body["items"][1]["score"]


# --- provenance (issue 18 item 10) ----------------------------------------------------------------------


def test_topic_detail_carries_its_provenance(client: TestClient) -> None:
    provenance = client.get(f"{TOPICS}/1").json()["provenance"]
    assert provenance["first_outlet"] == "Alpha News" and provenance["first_at"] == "2026-03-01T00:30:00+00:00"
    assert [(e["outlet"], e["lag_minutes"], e["time_source"]) for e in provenance["outlets"]] == [
        ("Alpha News", 0.0, "published"), ("Beta Times", 72.0, "published"),
    ]  # fmt: skip


def test_outlets_leaderboard_route(client: TestClient) -> None:
    body = client.get("/api/v1/outlets", params={"since": "2026-03-01T00:00:00"}).json()
    assert body["topics"] == 1 and body["since"] == "2026-03-01T00:00:00+00:00"
    assert [(r["outlet"], r["first_reported"], r["median_lag_minutes"]) for r in body["outlets"]] == [
        ("Alpha News", 1, None), ("Beta Times", 0, 72.0),
    ]  # fmt: skip
    assert client.get("/api/v1/outlets", params={"until": (T0 - timedelta(days=1)).isoformat()}).json()["topics"] == 0
    backwards = client.get("/api/v1/outlets", params={"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"})
    assert backwards.status_code == 422 and backwards.json()["detail"][0]["loc"] == ["query", "until"]
    assert client.get("/api/v1/outlets", params={"since": "soon"}).status_code == 422
    assert client.get("/api/v1/outlets", headers={"X-API-Key": ""}).status_code == 401
