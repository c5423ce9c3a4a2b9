"""De-duplication: stable ids, cross-poll and cross-feed duplicates, revisions, near-duplicate links."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from ingest import simhash
from ingest.dedupe import Ledger, article_id, deduplicate, fingerprint
from ingest.normalise import NormalisedEntry
from newsflow.records import ledger as stored

T0 = datetime(2025, 2, 13, 6, 0, tzinfo=UTC)
WIRE = (
    "Philadelphia Federal Reserve President Charles Plosser said on Monday that weak economic data in "
    "recent months was largely due to harsh winter weather and should not slow the pace at which the "
    "central bank reduces its bond purchases. Plosser, a voting member of the Fed's policy committee this "
    "year, told an audience in Philadelphia that he expected growth to pick up in the spring as the effects "
    "of the cold fade, and that the labour market continued to improve despite the disappointing payroll "
    "figures for December and January. He repeated his view that the Fed should end its asset purchases "
    "sooner rather than later and said the bar for changing the pace of tapering was high. The central bank "
    "has cut its monthly purchases twice since December, to 65 billion dollars, and policymakers meet again "
    "next week in Washington, where they are expected to trim the programme by a further 10 billion dollars."
)


def art(
    url: str, feed: str = "a", title: str = "Fed official says weak data caused by weather", **kw: object
) -> NormalisedEntry:
    fields: dict[str, object] = dict(
        url=url, title=title, summary=WIRE, content="", published=T0, published_is_fallback=False,
        fetched=T0 + timedelta(minutes=5), language="en", outlet=feed.upper(), feed=feed, guid=None,
    )  # fmt: skip
    fields.update(kw)
    return NormalisedEntry(**fields)  # type: ignore[arg-type]


def test_article_id_is_stable_and_prefers_the_url() -> None:
    a = article_id("https://x.test/a", "g1", "feed1")
    assert a == article_id("https://x.test/a", "other-guid", "feed2") and a is not None and len(a) == 32
    assert article_id("", "g1", "feed1") != article_id("", "g1", "feed2")  # GUIDs are per feed
    assert article_id("", None, "feed1") is None


def test_first_poll_publishes_second_poll_nothing() -> None:
    ledger = Ledger()
    entries = [art("https://x.test/1"), art("https://x.test/2", title="Something else entirely", summary="Other")]
    first = deduplicate(fingerprint(entries), ledger)
    assert [r.url for r in first.records] == ["https://x.test/1", "https://x.test/2"]
    assert all(r.revision == 1 and r.near_duplicate_of is None for r in first.records)
    second = deduplicate(fingerprint(entries), ledger)
    assert second.records == [] and second.duplicates == 2


def test_same_article_in_two_feeds_is_published_once() -> None:
    ledger = Ledger()
    deduplicate(fingerprint([art("https://x.test/1", feed="a")]), ledger)
    other = deduplicate(fingerprint([art("https://x.test/1", feed="b", summary="B's own teaser")]), ledger)
    assert other.records == [] and other.duplicates == 1  # another feed's teaser is not a revision


def test_changed_content_under_the_same_id_is_a_revision() -> None:
    ledger = Ledger()
    [original] = deduplicate(fingerprint([art("https://x.test/1")]), ledger).records
    result = deduplicate(fingerprint([art("https://x.test/1", summary=WIRE + " Updated.")]), ledger)
    [revision] = result.records
    assert result.revisions == 1
    assert revision.id == original.id and revision.revision == 2 and revision.content_hash != original.content_hash
    assert deduplicate(fingerprint([art("https://x.test/1", summary=WIRE + " Updated.")]), ledger).records == []


def test_a_revision_keeps_the_first_publication_time_in_the_ledger() -> None:
    ledger = Ledger()
    deduplicate(fingerprint([art("https://x.test/1")]), ledger)
    later = art("https://x.test/1", summary=WIRE + " Updated.", published=T0 + timedelta(hours=3))
    result = deduplicate(fingerprint([later]), ledger)
    assert result.records[0].published == T0 + timedelta(hours=3)  # the record says what the feed says now
    assert result.ledger_updates[0].published == T0


def test_same_link_twice_in_one_document_is_kept_once() -> None:
    entries = [
        art("https://x.test/1"),
        art("https://x.test/1", summary="older teaser", published=T0 - timedelta(hours=1)),
    ]
    candidates = fingerprint(entries)
    assert len(candidates) == 1 and candidates[0].entry.summary == WIRE  # the latest, every time


def test_syndicated_near_copy_is_linked_to_the_first_copy() -> None:
    ledger = Ledger()
    [first] = deduplicate(fingerprint([art("https://wire.test/story")]), ledger).records
    copy = art(
        "https://paper.test/fed-story", feed="b", summary=WIRE.replace("said on Monday", "said Monday") + " (AP)"
    )
    result = deduplicate(fingerprint([copy]), ledger)
    [linked] = result.records
    assert result.near_duplicates == 1 and linked.near_duplicate_of == first.id and linked.id != first.id
    # a copy of the copy still points at the first copy
    third = art("https://blog.test/fed", feed="c", summary=WIRE + " (AP)")
    [again] = deduplicate(fingerprint([third]), ledger).records
    assert again.near_duplicate_of == first.id


def test_different_stories_are_not_linked() -> None:
    ledger = Ledger()
    deduplicate(fingerprint([art("https://x.test/1")]), ledger)
    other = art(
        "https://x.test/2",
        title="EBay rejects Icahn slate of directors",
        summary="EBay said on Monday its board rejected the nominees put forward by activist investor "
        "Carl Icahn, escalating a fight over PayPal.",
    )
    assert deduplicate(fingerprint([other]), ledger).records[0].near_duplicate_of is None


def test_short_texts_link_only_when_identical() -> None:
    ledger = Ledger()
    deduplicate(fingerprint([art("https://x.test/1", title="Mt. Gox files for US bankruptcy", summary="")]), ledger)
    same = art("https://y.test/1", feed="b", title="Mt. Gox files for US bankruptcy", summary="")
    near = art("https://z.test/1", feed="c", title="Mt. Gox files for Japanese bankruptcy", summary="")
    result = deduplicate(fingerprint([same, near]), ledger)
    assert [r.near_duplicate_of is not None for r in result.records] == [True, False]


def test_fallback_dates_are_not_kept_in_the_ledger() -> None:
    result = deduplicate(fingerprint([art("https://x.test/1", published_is_fallback=True)]), Ledger())
    assert result.ledger_updates[0].published is None
    assert result.records[0].published_is_fallback is True


def test_record_fields() -> None:
    [record] = deduplicate(fingerprint([art("https://x.test/1", guid="g-1")]), Ledger()).records
    assert record.model_dump(exclude={"id", "content_hash"}) == {
        "url": "https://x.test/1", "title": "Fed official says weak data caused by weather", "summary": WIRE,
        "content": "", "published": T0, "published_is_fallback": False, "fetched": T0 + timedelta(minutes=5),
        "language": "en", "outlet": "A", "feed": "a", "guid": "g-1", "revision": 1, "near_duplicate_of": None,
    }  # fmt: skip


def test_simhash_properties() -> None:
    # Small edits of a wire-length text stay within the band index's guaranteed 3 bits.
    a = simhash.simhash(WIRE)
    assert simhash.simhash(WIRE) == a
    assert simhash.distance(a, simhash.simhash(WIRE.replace("Monday", "Tuesday"))) <= simhash.MAX_DISTANCE
    assert simhash.distance(a, simhash.simhash("A completely unrelated sentence about football results.")) > 10
    assert stored.from_hex(stored.to_hex(a)) == a
    assert len(stored.bands(a)) == 4 and sum(b << (16 * i) for i, b in enumerate(stored.bands(a))) == a


def test_ledger_band_index_finds_within_three_bits() -> None:
    entry = fingerprint([art("https://x.test/1")])[0]
    fp = entry.simhash
    ledger = Ledger()
    deduplicate([entry], ledger)
    flipped = fp ^ 0b1000_0000_0000_0001_0000_0000_0000_0001  # 3 bits, in different bands
    assert ledger.find_near(flipped, 3, exclude="other") is not None
    assert ledger.find_near(fp ^ 0b1111, 3, exclude="other") is None  # 4 bits
    assert ledger.find_near(fp, 3, exclude=entry.article_id) is None


def test_revision_keeps_first_feed_and_link() -> None:
    ledger = Ledger()
    deduplicate(fingerprint([art("https://x.test/1")]), ledger)
    [update] = deduplicate(fingerprint([replace(art("https://x.test/1"), summary="new")]), ledger).ledger_updates
    assert (update.first_feed, update.revision, update.url) == ("a", 2, "https://x.test/1")
