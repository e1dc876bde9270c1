"""One-to-many search and pairwise match through one table of media-type handlers.

``HANDLERS`` maps each media type to how a query of that type searches the
catalog and how two media of that type are compared; ``search_media`` and
``match_media`` detect the type from the bytes and dispatch once.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, NamedTuple

from PIL import Image

from indexer.decode.image import ImageDecodeConfig, decode_picture
from indexer.decode.probe import detect_media_type
from indexer.decode.sources import MediaSource
from indexer.decode.video import sample_frames
from indexer.errors import BadInputError
from indexer.features.config import FeatureConfig
from indexer.features.extractor import FrameEmbedder
from indexer.media_types import MediaType
from indexer.store.catalog import Catalog
from search.envelope import MatchEnvelope, SearchHit, frame_envelope
from search.retrieve.audio import AudioSearchConfig, match_audio, search_audio
from search.retrieve.image import search_image
from search.retrieve.video import VideoSearchConfig, match_videos, search_video
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


class Request(NamedTuple):
    """What every handler gets: the embedder, the catalog's features and the search settings."""

    embedder: FrameEmbedder
    features: FeatureConfig
    config: SearchConfig


class MediaHandler(NamedTuple):
    search: Callable[[Catalog, MediaSource, str, Request], list[SearchHit]]  # (catalog, query, sha256, request)
    match: Callable[[MediaSource, MediaSource, bool, Request], MatchEnvelope]  # (source, target, exact, request)


def decode_query_image(source: MediaSource, embedder: FrameEmbedder, config: SearchConfig) -> Image.Image:
    """RGB picture of an image query, JPEG decoded at the extractor's draft size."""
    return decode_picture(source.read_bytes(), source.name, config.image, draft_size=embedder.config.draft_size)


def audio_search_config(features: FeatureConfig, config: SearchConfig) -> AudioSearchConfig:
    """The audio search settings that match how the catalog fingerprinted its assets, with ``config``'s threshold."""
    return AudioSearchConfig(decode=features.audio_decode, fingerprint=features.audio,
                             thresholds=config.thresholds[MediaType.AUDIO])


def _video_config(config: SearchConfig) -> VideoSearchConfig:
    return VideoSearchConfig(thresholds=config.thresholds[MediaType.VIDEO])


# ----------------------------------------------------------------- the handlers
def _search_image(catalog: Catalog, source: MediaSource, sha256: str, request: Request) -> list[SearchHit]:
    embedding = request.embedder.embed([decode_query_image(source, request.embedder, request.config)])[0]
    return search_image(catalog, embedding, sha256, request.config.top_k, request.config.candidates_per_frame,
                        request.config.thresholds[MediaType.IMAGE])


def _search_video(catalog: Catalog, source: MediaSource, sha256: str, request: Request) -> list[SearchHit]:
    video = sample_frames(source, request.features.video)
    hits = search_video(catalog, request.embedder, video, request.config.top_k, _video_config(request.config),
                        query_sha256=sha256)
    if video.has_audio:
        try:
            sound = _search_audio(catalog, source, sha256, request)
        except BadInputError:  # a silent soundtrack simply finds nothing
            sound = []
        hits = merge_hits(hits, sound)[: request.config.top_k]
    return hits


def _search_audio(catalog: Catalog, source: MediaSource, sha256: str, request: Request) -> list[SearchHit]:
    return search_audio(catalog, source, request.config.top_k, audio_search_config(request.features, request.config),
                        postings=catalog.postings)


def _match_image(source: MediaSource, target: MediaSource, exact: bool, request: Request) -> MatchEnvelope:
    embedder, config = request.embedder, request.config
    embeddings = embedder.embed([decode_query_image(m, embedder, config) for m in (source, target)])
    return frame_envelope(float(embeddings[0] @ embeddings[1]), MediaType.IMAGE, config.thresholds[MediaType.IMAGE],
                          exact)


def _match_video(source: MediaSource, target: MediaSource, exact: bool, request: Request) -> MatchEnvelope:
    return match_videos(source, target, request.embedder, _video_config(request.config),
                        sampling=request.features.video, exact=exact)


def _match_audio(source: MediaSource, target: MediaSource, exact: bool, request: Request) -> MatchEnvelope:
    return match_audio(source, target, audio_search_config(request.features, request.config), exact=exact)


HANDLERS: dict[MediaType, MediaHandler] = {
    MediaType.IMAGE: MediaHandler(_search_image, _match_image),
    MediaType.VIDEO: MediaHandler(_search_video, _match_video),
    MediaType.AUDIO: MediaHandler(_search_audio, _match_audio),
}


# ----------------------------------------------------------------- entry points
def search_media(catalog: Catalog, embedder: FrameEmbedder, source: MediaSource,
                 config: SearchConfig = SearchConfig(), features: FeatureConfig = FeatureConfig()) -> QueryResult:
    """Search ``source`` (an image, video or audio file) against ``catalog`` built with ``features``."""
    started = time.perf_counter()
    source.check(config.max_query_bytes)
    handler = HANDLERS[detect_media_type(source)]
    hits = handler.search(catalog, source, source.sha256(), Request(embedder, features, config))
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    if config.matches_only:
        hits = [hit for hit in hits if hit.envelope.match]
    hits = [dataclasses.replace(hit, rank=rank,
                                envelope=dataclasses.replace(hit.envelope, processing_time_ms=elapsed_ms))
            for rank, hit in enumerate(hits, 1)]
    return QueryResult(source.name, elapsed_ms, tuple(hits))


def match_media(source: MediaSource, target: MediaSource, embedder: FrameEmbedder,
                config: SearchConfig = SearchConfig(), features: FeatureConfig = FeatureConfig()) -> MatchEnvelope:
    """The envelope for ``source`` (the query side) against ``target``."""
    started = time.perf_counter()
    for medium in (source, target):
        medium.check(config.max_query_bytes)
    source_type, target_type = detect_media_type(source), detect_media_type(target)
    if source_type is not target_type:
        raise BadInputError(f"expected two media of the same type, got {source_type.value} and {target_type.value}")
    exact = source.sha256() == target.sha256()
    envelope = HANDLERS[source_type].match(source, target, exact, Request(embedder, features, config))
    return dataclasses.replace(envelope, processing_time_ms=(time.perf_counter() - started) * 1000.0)


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
