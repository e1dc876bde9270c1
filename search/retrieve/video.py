"""Video search and pairwise video match: sampled frames -> candidates -> temporal alignment -> envelope.

The seam between vector search and temporal reranking: frame and window
neighbours from the catalog's FAISS indexes are grouped by asset, the best
few assets are aligned on the query x asset similarity matrix of the stored
per-frame embeddings, and the segments found decide each hit's envelope.
Pairwise match runs the same alignment and envelope code on two files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
from collections import defaultdict

import numpy as np

from indexer.store.catalog import Catalog
from indexer.store.records import FrameHit, WindowHit
from indexer.features.windows import pool_windows
from indexer.features.extractor import FrameEmbedder
from indexer.media_types import MediaType
from indexer.decode.video import SampledVideo, VideoSamplingConfig, VideoSource, sample_frames
from search.envelope import MatchEnvelope, SearchHit, Segment, segment_envelope
from search.align.temporal import AlignConfig, align
from search.thresholds import VIDEO, Thresholds

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class VideoSearchConfig:
    frames_per_query_frame: int = 32  # frame-index neighbours per query frame
    windows_per_query_window: int = 16  # window-index neighbours per pooled query window
    min_vote_similarity: float = 0.3  # neighbours below this cosine do not vote for their asset
    max_candidates: int = 25  # assets aligned per query, best voted first
    near_duplicate_coverage: float = 0.8  # share of both videos the segments must cover
    align: AlignConfig = AlignConfig()
    thresholds: Thresholds = VIDEO


# ----------------------------------------------------------------- background statistics
_BACKGROUND_CACHE: dict[str, np.ndarray] = {}
_BACKGROUND_LOCK = threading.Lock()


def background_frames(size: int = 128) -> list[np.ndarray]:
    """Uninformative frames (uint8 (size, size, 3)): black, white, greys, flat colours, gradients, dark noise."""
    frames = [np.full((size, size, 3), v, np.uint8) for v in (0, 16, 64, 128, 192, 235, 255)]
    for colour in ((200, 30, 30), (30, 160, 40), (30, 60, 200), (220, 200, 40), (30, 30, 60), (90, 60, 30)):
        frames.append(np.broadcast_to(np.array(colour, np.uint8), (size, size, 3)).copy())
    ramp = np.linspace(0, 255, size, dtype=np.float32)
    for grid in (ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1)):
        frames.append(np.repeat(grid.astype(np.uint8)[:, :, None], 3, axis=2))
        frames.append(np.stack([grid * 0.3, grid * 0.5, grid], axis=2).astype(np.uint8))
    noise = np.random.default_rng(0).integers(0, 24, size=(size, size, 3), dtype=np.uint8)
    frames.append(noise)
    return frames


def background_embeddings(embedder: FrameEmbedder) -> np.ndarray:
    """(b, 512) float32 embeddings of ``background_frames`` for this embedder's model, computed once."""
    key = json.dumps(embedder.record(), sort_keys=True)
    with _BACKGROUND_LOCK:
        cached = _BACKGROUND_CACHE.get(key)
    if cached is None:
        cached = embedder.embed(background_frames())
        with _BACKGROUND_LOCK:
            _BACKGROUND_CACHE[key] = cached
    return cached


def background_scores(embeddings: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Each row's highest cosine with the background set: (n, 512), (b, 512) -> (n,) float32."""
    if len(embeddings) == 0:
        return np.zeros(0, np.float32)
    return (embeddings @ background.T).max(axis=1).astype(np.float32)


# ----------------------------------------------------------------- alignment and envelope
@dataclasses.dataclass(frozen=True)
class VideoFeatures:
    """Per-frame embeddings (n, 512) float32 at ``times_s`` (n,) float64 of a video lasting ``duration_s``."""

    embeddings: np.ndarray
    times_s: np.ndarray
    duration_s: float
    background: np.ndarray  # (n,) float32, from background_scores

    def __post_init__(self) -> None:
        if self.embeddings.ndim != 2 or len(self.embeddings) != len(self.times_s):
            raise ValueError(f"expected (n, d) embeddings for {len(self.times_s)} times, got {self.embeddings.shape}")
        if self.background.shape != self.times_s.shape:
            raise ValueError(f"expected one background score per frame, got {self.background.shape}")


def video_features(embedder: FrameEmbedder, video: SampledVideo) -> VideoFeatures:
    embeddings = embedder.embed(list(video.frames))
    return VideoFeatures(embeddings, video.times_s, video.duration_s,
                         background_scores(embeddings, background_embeddings(embedder)))


def align_features(query: VideoFeatures, reference: VideoFeatures, config: AlignConfig = AlignConfig()) -> list[Segment]:
    """Segments of ``query`` (source) found in ``reference`` (target), best first."""
    sim = query.embeddings @ reference.embeddings.T
    return align(sim, query.times_s, reference.times_s, config, query.background, reference.background,
                 query.duration_s, reference.duration_s)


def video_envelope(segments: list[Segment], query_duration_s: float, reference_duration_s: float,
                   config: VideoSearchConfig = VideoSearchConfig(), exact: bool = False) -> MatchEnvelope:
    """The envelope of a (query, reference) pair from its aligned segments."""
    return segment_envelope(segments, MediaType.VIDEO, config.thresholds, query_duration_s, reference_duration_s,
                            config.near_duplicate_coverage, exact, kind="video", segment_floor=0.0)


# ----------------------------------------------------------------- one-to-many search
def candidate_assets(catalog: Catalog, query: VideoFeatures, config: VideoSearchConfig = VideoSearchConfig()) -> list[str]:
    """Asset ids worth aligning, best first: votes of frame and pooled-window neighbours.

    Each query frame (and each pooled query window) gives each asset its best
    neighbour's similarity once, so an asset wins by matching many query
    frames, not by many near-identical frames of its own.
    """
    votes: dict[str, float] = defaultdict(float)
    _add_votes(votes, catalog.search_frames(query.embeddings, config.frames_per_query_frame), config)
    windows, _ = pool_windows(query.embeddings, catalog.config.window_frames)
    if len(windows):
        _add_votes(votes, catalog.search_windows(windows, config.windows_per_query_window), config)
    ranked = sorted(votes, key=lambda a: -votes[a])
    return ranked[: config.max_candidates]


def _add_votes(votes: dict[str, float], rows: list[list[FrameHit | WindowHit]], config: VideoSearchConfig) -> None:
    """Add, per query row, each asset's best neighbour similarity at or above the vote floor."""
    for hits in rows:
        best: dict[str, float] = {}
        for hit in hits:
            if hit.score >= config.min_vote_similarity:
                best[hit.asset_id] = max(best.get(hit.asset_id, 0.0), hit.score)
        for asset_id, score in best.items():
            votes[asset_id] += score


def search_video(catalog: Catalog, embedder: FrameEmbedder, video: SampledVideo, top_k: int = 10,
                 config: VideoSearchConfig = VideoSearchConfig(), query_sha256: str | None = None) -> list[SearchHit]:
    """Ranked hits of the catalog's video assets for a sampled query video (ranks from 1)."""
    query = video_features(embedder, video)
    return search_video_features(catalog, embedder, query, top_k, config, query_sha256)


def search_video_features(catalog: Catalog, embedder: FrameEmbedder, query: VideoFeatures, top_k: int = 10,
                          config: VideoSearchConfig = VideoSearchConfig(),
                          query_sha256: str | None = None) -> list[SearchHit]:
    """``search_video`` for a query whose features are already computed."""
    background = background_embeddings(embedder)
    scored: list[tuple[float, float, SearchHit]] = []
    for asset_id in candidate_assets(catalog, query, config):
        record = catalog.get(asset_id)
        if record is None or record.media_type is not MediaType.VIDEO:
            continue  # deleted meanwhile, or an image: image assets are found by image queries
        embeddings, times = catalog.frames(asset_id)
        reference = VideoFeatures(embeddings, times, record.duration_s or float(times[-1]) + 1.0,
                                  background_scores(embeddings, background))
        segments = align_features(query, reference, config.align)
        exact = query_sha256 is not None and record.sha256 == query_sha256
        if not segments and not exact:
            continue
        envelope = video_envelope(segments, query.duration_s, reference.duration_s, config, exact)
        hit = SearchHit(asset_id=asset_id, rank=0, metadata=record.metadata, envelope=envelope)
        scored.append((envelope.similarity_score, envelope.overlap_seconds, hit))
    scored.sort(key=lambda item: (-item[0], -item[1]))
    return [dataclasses.replace(hit, rank=rank) for rank, (_, _, hit) in enumerate(scored[:top_k], 1)]


# ----------------------------------------------------------------- pairwise match
def match_videos(source: VideoSource, target: VideoSource, embedder: FrameEmbedder,
                 config: VideoSearchConfig = VideoSearchConfig(),
                 sampling: VideoSamplingConfig = VideoSamplingConfig(), exact: bool = False) -> MatchEnvelope:
    """The envelope for video ``source`` (query side) against video ``target``, with its segments."""
    started = time.perf_counter()
    query = video_features(embedder, sample_frames(source, sampling))
    reference = video_features(embedder, sample_frames(target, sampling))
    envelope = video_envelope(align_features(query, reference, config.align), query.duration_s,
                              reference.duration_s, config, exact)
    return dataclasses.replace(envelope, processing_time_ms=(time.perf_counter() - started) * 1000.0)
