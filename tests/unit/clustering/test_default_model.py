"""The default embedding model, multilingual-e5-small (installed by scripts/bootstrap.sh), on German news."""

from __future__ import annotations

import numpy as np
import pytest

from clustering.embedding.embed import Embedder, resolve_model
from clustering.story_model.same_story import SameStoryParams, configured_model
from newsflow.models import MULTILINGUAL_E5_SMALL, installed_path
from newsflow.settings import Settings

# Two stories that share their actors (the user's example), and one unrelated story.
RARE_EARTH = [
    "Selenskyj und Trump verhandeln über ein Rohstoffabkommen: Zugang zu seltenen Erden für US-Hilfe",
    "Kiew und Washington einigen sich auf Eckpunkte des Abkommens über seltene Erden",
]
PRISONERS = [
    "Russland lässt den US-Lehrer Marc Fogel frei, Trump empfängt ihn im Weißen Haus",
    "Nach Fogels Freilassung kommt auch der Russe Winnik aus US-Haft frei",
]
FOOTBALL = "Leverkusen und Bayern trennen sich im Spitzenspiel torlos"


@pytest.fixture(autouse=True)
def _the_default_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEWSFLOW_EMBEDDING_MODEL")  # (the unit tests' conftest sets the English one)


@pytest.fixture(scope="module")
def e5() -> Embedder:
    if installed_path(MULTILINGUAL_E5_SMALL) is None:
        pytest.fail("multilingual-e5-small is not installed: scripts/bootstrap.sh installs it")
    return Embedder(Settings(embedding_model="multilingual-e5-small"))


def test_the_default_is_the_multilingual_model_with_its_own_same_story_model() -> None:
    settings = Settings()
    assert resolve_model(settings)[0] == MULTILINGUAL_E5_SMALL.model_id
    assert resolve_model(Settings(embedding_model=""))[0] == MULTILINGUAL_E5_SMALL.model_id  # empty: the default
    model = configured_model(SameStoryParams.from_settings(settings))
    assert model is not None and model.embedding_model == MULTILINGUAL_E5_SMALL.model_id
    # Cuts on its similarity scale; the bundled English model keeps its own.
    assert (settings.story_merge_threshold, settings.recluster_group_merge_threshold) == (0.5, 0.22)
    minilm = Settings(embedding_model="all-MiniLM-L6-v2")
    assert (minilm.story_merge_threshold, minilm.recluster_group_merge_threshold) == (0.45, 0.3)


def test_german_stories_with_shared_actors_stay_apart(e5: Embedder) -> None:
    v = e5.encode([*RARE_EARTH, *PRISONERS, FOOTBALL])
    sims = v @ v.T
    same = min(sims[0, 1], sims[2, 3])
    across = max(sims[0, 2], sims[0, 3], sims[1, 2], sims[1, 3])
    assert same > across + 0.1, (same, across)
    # Centred at install: unrelated texts score near 0, not e5's raw 0.75-0.85.
    assert np.max(sims[4, :4]) < 0.35, sims[4]
