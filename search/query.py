"""One-to-many search: a query medium against the whole catalog, ranked hits in the envelope."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np
from PIL import Image

from indexer.catalog import Catalog, FrameHit
from indexer.errors import BadInputError
from indexer.extractor import FrameEmbedder
from indexer.features import FeatureConfig
from indexer.image_decode import ImageDecodeConfig, decode_picture
from indexer.media_source import MediaSource
from indexer.media_types import MediaType
from indexer.probe import detect_media_type
from indexer.video_decode import sample_frames
from search.envelope import MatchEnvelope, MatchType, SearchHit, Segment
from search.thresholds import DEFAULTS, Thresholds

MAX_TOP_K = 1000


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    top_k: int = 10
    candidates_per_frame: int = 100  # FAISS neighbours per query vector before grouping by asset
    matches_only: bool = False
    max_query_bytes: int = 1024**3
    image: ImageDecodeConfig = ImageDecodeConfig()
    thresholds: dict[MediaType, Thresholds] = dataclasses.field(default_factory=lambda: dict(DEFAULTS))

    def __post_init__(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise BadInputError(f"expected top_k between 1 and {MAX_TOP_K}, got {self.top_k}")


@dataclasses.dataclass(frozen=True)
class QueryResult:
    query: str
    processing_time_ms: float
    hits: tuple[SearchHit, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"query": self.query, "processing_time_ms": round(self.processing_time_ms, 1),
                "results": [hit.to_dict() for hit in self.hits]}


def search_media(catalog: Catalog, embedder: FrameEmbedder, source: MediaSource,
                 config: SearchConfig = SearchConfig(), features: FeatureConfig = FeatureConfig()) -> QueryResult:
    """Search ``source`` (an image, video or audio file) against ``catalog`` built with ``features``."""
    started = time.perf_counter()
    source.check(config.max_query_bytes)
    media_type = detect_media_type(source)
    sha256 = source.sha256()
    if media_type is MediaType.IMAGE:
        hits = search_image(catalog, embedder.embed([decode_query_image(source, embedder, config)])[0], sha256, config)
    elif media_type is MediaType.VIDEO:
        from search.video_search import VideoSearchConfig, search_video

        video = sample_frames(source, features.video)
        video_config = VideoSearchConfig(thresholds=config.thresholds[MediaType.VIDEO])
        hits = search_video(catalog, embedder, video, config.top_k, video_config, query_sha256=sha256)
        if video.has_audio:
            hits = merge_hits(hits, _search_soundtrack(catalog, source, features, config))[: config.top_k]
    else:
        from search.audio_search import search_audio

        hits = search_audio(catalog, source, config.top_k, audio_search_config(features, config),
                            postings=catalog.postings)
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if config.matches_only:
        hits = [hit for hit in hits if hit.envelope.match]
    hits = [dataclasses.replace(hit, rank=rank,
                                envelope=dataclasses.replace(hit.envelope, processing_time_ms=elapsed_ms))
            for rank, hit in enumerate(hits, 1)]
    return QueryResult(source.name, elapsed_ms, tuple(hits))


def decode_query_image(source: MediaSource, embedder: FrameEmbedder, config: SearchConfig) -> Image.Image:
    """RGB picture of an image query, JPEG decoded at the extractor's draft size."""
    return decode_picture(source.read_bytes(), source.name, config.image, draft_size=embedder.config.draft_size)


def audio_search_config(features: FeatureConfig, config: SearchConfig):
    """The audio search settings that match how the catalog fingerprinted its assets, with ``config``'s threshold."""
    from search.audio_search import AudioSearchConfig

    return AudioSearchConfig(decode=features.audio_decode, fingerprint=features.audio,
                             thresholds=config.thresholds[MediaType.AUDIO])


def _search_soundtrack(catalog: Catalog, source: MediaSource, features: FeatureConfig,
                       config: SearchConfig) -> list[SearchHit]:
    """Audio hits for the soundtrack of a video query; a silent soundtrack simply finds nothing."""
    from search.audio_search import search_audio

    try:
        return search_audio(catalog, source, config.top_k, audio_search_config(features, config),
                            postings=catalog.postings)
    except BadInputError:
        return []


def merge_hits(visual: list[SearchHit], audio: list[SearchHit]) -> list[SearchHit]:
    """One ranking from the picture and the sound of a video query.

    Each asset keeps the envelope of its stronger signal (the picture when they
    tie, since its segments cover silent stretches too); the reason says when
    the other signal matched as well. Ranked by score, best first.
    """
    by_asset: dict[str, SearchHit] = {}
    for hit in [*visual, *audio]:
        kept = by_asset.get(hit.asset_id)
        if kept is None:
            by_asset[hit.asset_id] = hit
            continue
        kept_wins = kept.envelope.similarity_score >= hit.envelope.similarity_score
        stronger, weaker = (kept, hit) if kept_wins else (hit, kept)
        if weaker.envelope.match:
            note = f"; the {'sound' if stronger is kept else 'picture'} matches too " \
                   f"(score {weaker.envelope.similarity_score:.2f})"
            stronger = dataclasses.replace(stronger, envelope=dataclasses.replace(
                stronger.envelope, reason=stronger.envelope.reason + note))
        by_asset[hit.asset_id] = stronger
    return sorted(by_asset.values(), key=lambda h: -h.envelope.similarity_score)


def search_image(catalog: Catalog, embedding: np.ndarray, query_sha256: str,
                 config: SearchConfig = SearchConfig()) -> list[SearchHit]:
    """Hits for one (512,) image embedding: each asset once, at its best frame, best first."""
    frame_hits = catalog.search_frames(embedding[None, :], config.candidates_per_frame)[0]
    best: dict[str, FrameHit] = {}
    for hit in frame_hits:
        if hit.asset_id not in best or hit.score > best[hit.asset_id].score:
            best[hit.asset_id] = hit
    ranked = sorted(best.values(), key=lambda h: -h.score)[: config.top_k]
    out = []
    for hit in ranked:
        record = catalog.get(hit.asset_id)
        if record is None:  # deleted while we searched
            continue
        exact = record.sha256 == query_sha256
        envelope = image_envelope(1.0 if exact else hit.score, record.media_type, config.thresholds, exact,
                                  target_time_s=hit.time_s if record.media_type is MediaType.VIDEO else None)
        out.append(SearchHit(asset_id=record.asset_id, rank=0, metadata=record.metadata, envelope=envelope))
    return out


def image_envelope(cosine: float, target_type: MediaType, thresholds: dict[MediaType, Thresholds],
                   exact: bool = False, target_time_s: float | None = None) -> MatchEnvelope:
    """Envelope for an image compared with an image, or with one frame of a video at ``target_time_s``."""
    score = float(np.clip(cosine, 0.0, 1.0))
    threshold = thresholds[MediaType.IMAGE]
    is_match = exact or score >= threshold.match
    if exact:
        match_type, reason = MatchType.EXACT, "identical bytes (same sha256)"
    elif is_match:
        match_type = MatchType.NEAR_DUPLICATE if target_time_s is None else MatchType.PARTIAL
        reason = f"SSCD similarity {score:.3f} is at or above the image threshold {threshold.match:.3f}"
    else:
        match_type = MatchType.NONE
        reason = f"SSCD similarity {score:.3f} is below the image threshold {threshold.match:.3f}"
    segments: tuple[Segment, ...] = ()
    if target_time_s is not None:
        segments = (Segment(0.0, 0.0, target_time_s, target_time_s, score),)
        reason += f"; best frame at {target_time_s:.1f} s of the video"
    return MatchEnvelope(match=is_match, confidence=threshold.confidence(score), similarity_score=score,
                         match_type=match_type, media_type=target_type, matched_segments=segments,
                         reason=reason)
