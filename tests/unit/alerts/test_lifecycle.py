"""The alert lifecycle: open, deduplicate, repeat, resolve, group, silence (and a silence's end)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from newsflow.alerts.lifecycle import Plan, Policy, TopicInfo, alert_id, plan_evaluation
from newsflow.records.alert import Alert, Growth, Silence
from newsflow.settings import Settings

T0 = datetime(2025, 2, 13, 12, 0, tzinfo=UTC)


def growth(topic_id: int, breaching: bool, at: datetime, recent: int = 8) -> Growth:
    z = 5.0 if breaching else 0.5
    return Growth(topic_id, recent, 3, 1.0, 0.5, z, z * 2, False, breaching, at)


@pytest.fixture
def policy(settings: Settings) -> Policy:
    return Policy.from_settings(settings)


class Clock:
    """Runs evaluations one after another, carrying the stored (firing) alerts like the store would."""

    def __init__(self, policy: Policy, topics: dict[int, TopicInfo] | None = None) -> None:
        self.policy, self.topics = policy, topics or {}
        self.stored: dict[str, Alert] = {}
        self.silences: list[Silence] = []

    def run(self, at: datetime, breaching: dict[int, bool]) -> Plan:
        growths = [growth(t, b, at) for t, b in breaching.items()]
        firing = [a for a in self.stored.values() if a.status == "firing"]
        plan = plan_evaluation(growths, firing, self.topics, self.silences, self.policy, at)
        self.stored.update({a.id: a for a in plan.alerts})
        return plan


def events(plan: Plan) -> list[tuple[int, str]]:
    return sorted((n.alert.topic_id, n.event) for n in plan.notifications)


def test_breach_opens_one_alert_with_an_idempotent_id(policy: Policy) -> None:
    clock = Clock(policy)
    plan = clock.run(T0, {1: True, 2: False})
    assert events(plan) == [(1, "firing")]
    (alert,) = plan.alerts
    assert alert.id == alert_id(policy.fingerprint(1), T0) and alert.fingerprint == f"{policy.rule}:1"
    assert alert.notify_count == 1 and alert.last_notified_at == T0
    again = clock.run(T0, {1: True, 2: False})  # the same data evaluated again (a retried task)
    assert again.notifications == [] and [a.id for a in again.alerts] == [alert.id]


def test_still_breaching_is_deduplicated_until_the_repeat_interval(policy: Policy) -> None:
    clock = Clock(policy)
    clock.run(T0, {1: True})
    step = timedelta(minutes=5)
    quiet = clock.run(T0 + step, {1: True})
    assert quiet.notifications == [] and len(clock.stored) == 1
    before = clock.run(T0 + policy.repeat_interval - step, {1: True})
    assert before.notifications == []
    due = clock.run(T0 + policy.repeat_interval, {1: True})
    assert events(due) == [(1, "repeat")] and due.alerts[0].notify_count == 2
    assert len(clock.stored) == 1  # still the same episode


def test_resolves_only_after_no_breach_for_the_resolve_interval(policy: Policy) -> None:
    clock = Clock(policy)
    clock.run(T0, {1: True})
    last_breach = T0 + timedelta(minutes=10)
    clock.run(last_breach, {1: True})
    pending = clock.run(last_breach + policy.resolve_after - timedelta(minutes=1), {1: False})
    assert pending.notifications == [] and pending.alerts[0].status == "firing"
    done = clock.run(last_breach + policy.resolve_after, {})  # also when the topic had no arrivals at all
    assert events(done) == [(1, "resolved")]
    assert done.alerts[0].status == "resolved" and done.alerts[0].resolved_at == last_breach + policy.resolve_after
    reopened = clock.run(last_breach + 2 * policy.resolve_after, {1: True})
    assert events(reopened) == [(1, "firing")] and reopened.alerts[0].id != done.alerts[0].id


def test_merged_topic_resolves_its_alert(policy: Policy) -> None:
    clock = Clock(policy)
    clock.run(T0, {1: True})
    clock.topics = {1: TopicInfo(label="x", merged_into=7)}
    plan = clock.run(T0 + timedelta(minutes=5), {})
    assert events(plan) == [(1, "resolved")]
    assert plan.alerts[0].details["resolved_because"] == "merged into topic 7"


def test_notifications_of_one_group_are_one_batch(settings: Settings) -> None:
    by_rule = Clock(Policy.from_settings(settings)).run(T0, {1: True, 2: True, 3: True})
    assert list(by_rule.groups()) == [settings.alert_rule_name]
    assert [n.alert.topic_id for n in by_rule.groups()[settings.alert_rule_name]] == [1, 2, 3]
    by_topic = Clock(Policy.from_settings(settings.model_copy(update={"alert_group_by": "topic"})))
    groups = by_topic.run(T0, {1: True, 2: True}).groups()
    assert len(groups) == 2 and all(len(batch) == 1 for batch in groups.values())


def test_silence_holds_the_notification_back_but_the_alert_is_stored(policy: Policy) -> None:
    clock = Clock(policy, {1: TopicInfo(label="Flappy Bird returns"), 2: TopicInfo(label="Unicredit loss")})
    silence = Silence("s1", {"label_contains": "flappy"}, T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    clock.silences = [silence]
    plan = clock.run(T0, {1: True, 2: True})
    assert events(plan) == [(2, "firing")]
    held = next(a for a in plan.alerts if a.topic_id == 1)
    assert held.silenced_by == "s1" and held.notify_count == 0 and held.status == "firing"
    assert [n.alert.topic_id for n in plan.silenced] == [1]


def test_notification_goes_out_once_the_silence_ends(policy: Policy) -> None:
    clock = Clock(policy)
    silence = Silence("s1", {"topic_id": 1}, T0 - timedelta(hours=1), T0 + timedelta(minutes=30))
    clock.silences = [silence]
    assert clock.run(T0, {1: True}).notifications == []
    assert clock.run(T0 + timedelta(minutes=10), {1: True}).notifications == []
    after = clock.run(T0 + timedelta(minutes=30), {1: True})  # ends_at is exclusive
    assert events(after) == [(1, "firing")] and after.alerts[0].silenced_by is None


def test_expired_silence_no_longer_holds_back(policy: Policy) -> None:
    clock = Clock(policy)
    expired = Silence("s1", {"rule": policy.rule}, T0 - timedelta(hours=1), T0 + timedelta(hours=5),
                      expired_at=T0 - timedelta(minutes=1))  # fmt: skip
    clock.silences = [expired]
    assert events(clock.run(T0, {1: True})) == [(1, "firing")]


def test_alert_resolved_while_silenced_sends_no_resolved_notice(policy: Policy) -> None:
    clock = Clock(policy)
    clock.silences = [Silence("s1", {"topic_id": 1}, T0, T0 + timedelta(days=1))]
    clock.run(T0, {1: True})
    clock.silences = []
    # Lifted, but the growth has ended meanwhile: an alert nobody was told about resolves quietly.
    plan = clock.run(T0 + policy.resolve_after, {1: False})
    assert plan.notifications == [] and plan.alerts[0].status == "resolved"


def test_non_matching_silence_does_not_hold_back(policy: Policy) -> None:
    clock = Clock(policy, {1: TopicInfo(label="Flappy")})
    clock.silences = [Silence("s1", {"topic_id": 2, "label_contains": "flappy"}, T0, T0 + timedelta(hours=1))]
    assert events(clock.run(T0, {1: True})) == [(1, "firing")]


def test_stored_alert_keeps_its_breach_time_across_evaluations(policy: Policy) -> None:
    clock = Clock(policy)
    clock.run(T0, {1: True})
    later = T0 + timedelta(minutes=20)
    plan = clock.run(later, {1: False})
    stored = plan.alerts[0]
    assert stored.last_breach_at == T0 and stored.last_evaluated_at == later
