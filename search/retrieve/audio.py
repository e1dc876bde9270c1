"""One-to-many audio search over the catalog's hash postings, and pairwise audio match.

Query signal -> dense landmarks -> hashes under every hypothesis -> LMDB
postings -> hits grouped by asset -> the assets with the highest offset
histogram peak are aligned in full (``search.align.audio``) -> envelopes.
An asset can be an audio file or the soundtrack of a video (its record's
media type is kept; times are on the asset's clock).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, NamedTuple

import lmdb
import numpy as np

from indexer.decode.audio import AudioDecodeConfig, AudioSignal, decode_audio
from indexer.features.audio_fingerprint import FingerprintConfig, Landmarks, fingerprint
from indexer.store.postings import AudioPostings
from indexer.errors import BadInputError
from indexer.decode.sources import MediaInput, as_media_source
from indexer.media_types import MediaType
from search.align.audio import (
    AlignConfig,
    Hits,
    align_landmarks,
    best_offset_count,
    query_hashes,
    query_landmarks,
    score_of,
    segments_from_hits,
)
from search.envelope import MatchEnvelope, SearchHit, Segment, merged_duration, segment_envelope
from search.thresholds import AUDIO, Thresholds

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class AudioSearchConfig:
    decode: AudioDecodeConfig = AudioDecodeConfig()
    fingerprint: FingerprintConfig = FingerprintConfig()
    align: AlignConfig = AlignConfig()
    thresholds: Thresholds = AUDIO
    near_duplicate_coverage: float = 0.9  # share of both durations matched to call it a near duplicate
    unchanged_first: bool = True  # try the query at its own pitch and speed before the whole grid
    unchanged_coverage: float = 0.8  # share of the query that first try must explain to stand


class AudioCandidate(NamedTuple):
    asset_num: int
    score: float
    segments: list[Segment]


def search_postings(
    postings: AudioPostings, txn: lmdb.Transaction, marks: Landmarks, top_k: int, config: AudioSearchConfig = AudioSearchConfig()
) -> list[AudioCandidate]:
    """Best ``top_k`` assets for query landmarks (from ``query_landmarks``), best first, score > 0 only.

    With ``unchanged_first``, the query is first looked up with no pitch or time
    change (a fifteenth of the hashes); the whole hypothesis grid runs unless
    that finds a match whose segments cover most of the query (a tempo change
    aligns only briefly without its hypothesis). A line scores about the same
    either way (it counts the hits of its own hypothesis), and a negative can
    only score lower with fewer hypotheses, so the calibrated threshold holds
    for both.
    """
    if top_k < 1:
        raise BadInputError(f"expected top_k >= 1, got {top_k}")
    if config.unchanged_first and len(config.align.hypotheses()) > 1:
        unchanged = dataclasses.replace(config.align, pitch_shifts_st=(0.0,), time_scales=(1.0,))
        found = _search_postings(postings, txn, marks, top_k, dataclasses.replace(config, align=unchanged))
        if found and found[0].score >= config.thresholds.match:
            covered = merged_duration([(s.source_start_s, s.source_end_s) for s in found[0].segments
                                        if s.score >= config.thresholds.match])
            if covered >= config.unchanged_coverage * marks.duration_s:
                return found
    return _search_postings(postings, txn, marks, top_k, config)


def _search_postings(postings: AudioPostings, txn: lmdb.Transaction, marks: Landmarks, top_k: int,
                     config: AudioSearchConfig) -> list[AudioCandidate]:
    qh = query_hashes(marks, config.fingerprint, config.align)
    rows, assets, ref_t = postings.lookup(txn, qh.hashes)
    if rows.shape[0] == 0:
        return []
    order = np.argsort(assets, kind="stable")
    assets, rows, ref_t = assets[order], rows[order], ref_t[order]
    uniq, starts = np.unique(assets, return_index=True)
    ends = np.append(starts[1:], assets.shape[0])
    # Cheap ranking by histogram peak, then full alignment of the best few.
    peaks = []
    for asset, lo, hi in zip(uniq, starts, ends):
        if hi - lo < config.align.min_hits:
            continue
        hits = Hits(qh.times[rows[lo:hi]], ref_t[lo:hi], qh.hypothesis[rows[lo:hi]], qh.hashes[rows[lo:hi]])
        peaks.append((best_offset_count(hits, qh.scales, config.align), int(asset), hits))
    peaks.sort(key=lambda p: -p[0])
    out: list[AudioCandidate] = []
    for _, asset, hits in peaks[: max(config.align.max_candidates, top_k)]:
        segments = segments_from_hits(hits, qh.scales, marks.frame_s, marks.duration_s, config.align)
        score = score_of(segments)
        if score > 0:
            out.append(AudioCandidate(asset, score, segments))
    out.sort(key=lambda c: -c.score)
    return out[:top_k]


def audio_envelope(segments: list[Segment], media_type: MediaType, query_duration_s: float,
                   target_duration_s: float, elapsed_s: float, config: AudioSearchConfig = AudioSearchConfig(),
                   same_bytes: bool = False) -> MatchEnvelope:
    """The envelope of an audio alignment; durations lose a second of slack for the landmark grid's edges."""
    envelope = segment_envelope(segments, media_type, config.thresholds, query_duration_s, target_duration_s,
                                config.near_duplicate_coverage, same_bytes, duration_slack_s=1.0, kind="audio")
    return dataclasses.replace(envelope, processing_time_ms=elapsed_s * 1000.0)


def _signal(source: MediaInput | AudioSignal, config: AudioSearchConfig) -> AudioSignal:
    return source if isinstance(source, AudioSignal) else decode_audio(source, config.decode)


def match_audio(
    source: MediaInput, target: MediaInput, config: AudioSearchConfig = AudioSearchConfig(),
    exact: bool | None = None,
) -> MatchEnvelope:
    """Pairwise: where the audio of ``source`` (query) is found in ``target``; works on video soundtracks too.

    ``exact``: whether the two are the same bytes, when the caller knows; otherwise both are hashed.
    """
    start = time.perf_counter()
    same = exact if exact is not None else as_media_source(source).sha256() == as_media_source(target).sha256()
    query = _signal(source, config)
    reference = _signal(target, config)
    segments = align_landmarks(
        query_landmarks(query, config.fingerprint, config.align), fingerprint(reference, config.fingerprint),
        config.fingerprint, config.align,
    )
    return audio_envelope(segments, MediaType.AUDIO, query.duration_s, reference.duration_s,
                          time.perf_counter() - start, config, same_bytes=same)


def search_audio(
    catalog: Any,
    source: MediaInput | AudioSignal,
    top_k: int = 10,
    config: AudioSearchConfig = AudioSearchConfig(),
    postings: AudioPostings | None = None,
) -> list[SearchHit]:
    """Search the catalog's audio postings (audio assets and video soundtracks) for the audio of ``source``.

    ``catalog`` needs ``env`` (its lmdb.Environment) and ``get_by_num(asset_num)``
    returning the asset record (asset_id, media_type, metadata, duration_s).
    """
    start = time.perf_counter()
    signal = _signal(source, config)
    marks = query_landmarks(signal, config.fingerprint, config.align)
    if postings is None and isinstance(getattr(catalog, "postings", None), AudioPostings):
        postings = catalog.postings
    if postings is None:
        try:
            postings = AudioPostings(catalog.env, create=False)
        except lmdb.NotFoundError:
            LOG.info("catalog has no audio postings yet")
            return []
    with catalog.env.begin() as txn:
        candidates = search_postings(postings, txn, marks, top_k, config)
    elapsed = time.perf_counter() - start
    hits: list[SearchHit] = []
    for candidate in candidates:
        record = catalog.get_by_num(candidate.asset_num)
        if record is None:  # deleted between lookup and now
            continue
        envelope = audio_envelope(candidate.segments, record.media_type, signal.duration_s,
                                  record.duration_s, elapsed, config)
        hits.append(SearchHit(asset_id=record.asset_id, rank=len(hits) + 1, metadata=dict(record.metadata),
                              envelope=envelope))
    return hits
