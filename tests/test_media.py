"""Ranking rules of one-to-many search that do not need a catalog."""

from __future__ import annotations

from indexer.media_types import MediaType
from search.envelope import Confidence, MatchEnvelope, MatchType, SearchHit
from search.media import merge_hits


def hit(asset_id: str, score: float, reason: str) -> SearchHit:
    envelope = MatchEnvelope(match=score >= 0.5, confidence=Confidence.HIGH if score >= 0.5 else Confidence.LOW,
                             similarity_score=score, match_type=MatchType.PARTIAL if score >= 0.5 else MatchType.NONE,
                             media_type=MediaType.VIDEO, reason=reason)
    return SearchHit(asset_id=asset_id, rank=0, metadata={}, envelope=envelope)


def test_each_asset_keeps_its_stronger_signal_and_ranking_follows_scores() -> None:
    visual = [hit("a", 0.9, "picture"), hit("b", 0.4, "picture")]
    audio = [hit("b", 0.8, "sound"), hit("c", 0.6, "sound"), hit("a", 0.7, "sound")]
    merged = merge_hits(visual, audio)
    assert [(h.asset_id, h.envelope.similarity_score) for h in merged] == [("a", 0.9), ("b", 0.8), ("c", 0.6)]
    assert merged[0].envelope.reason == "picture; the sound matches too (score 0.70)"
    assert merged[1].envelope.reason == "sound"  # the picture did not match, so it is not claimed


def test_a_tie_keeps_the_picture() -> None:
    merged = merge_hits([hit("a", 0.8, "picture")], [hit("a", 0.8, "sound")])
    assert merged[0].envelope.reason.startswith("picture")


def test_each_visual_model_gets_its_own_calibrated_image_threshold() -> None:
    from search.thresholds import IMAGE, IMAGE_SSCD, defaults_for

    assert defaults_for("sscd_distilled")[MediaType.IMAGE] == IMAGE
    assert defaults_for("sscd")[MediaType.IMAGE] == IMAGE_SSCD != IMAGE
    assert defaults_for("sscd")[MediaType.AUDIO] == defaults_for("sscd_distilled")[MediaType.AUDIO]
