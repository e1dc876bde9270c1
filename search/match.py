"""Pairwise mode: compare two media directly, without a catalog."""

from __future__ import annotations

import dataclasses
import time

from indexer.errors import BadInputError
from indexer.extractor import FrameEmbedder
from indexer.features import FeatureConfig
from indexer.media_source import MediaSource
from indexer.media_types import MediaType
from indexer.probe import detect_media_type
from search.envelope import MatchEnvelope
from search.query import SearchConfig, audio_search_config, decode_query_image, image_envelope


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
    if source_type is MediaType.IMAGE:
        embeddings = embedder.embed([decode_query_image(m, embedder, config) for m in (source, target)])
        envelope = image_envelope(1.0 if exact else float(embeddings[0] @ embeddings[1]), MediaType.IMAGE,
                                  config.thresholds, exact)
    elif source_type is MediaType.VIDEO:
        from search.video_search import VideoSearchConfig, match_videos

        video_config = VideoSearchConfig(thresholds=config.thresholds[MediaType.VIDEO])
        envelope = match_videos(source, target, embedder, video_config, sampling=features.video, exact=exact)
    else:
        from search.audio_search import match_audio

        envelope = match_audio(source, target, audio_search_config(features, config), exact=exact)
    return dataclasses.replace(envelope, processing_time_ms=(time.perf_counter() - started) * 1000.0)
