"""Message converters between nearmatch's types and the nearmatch.v1 protobuf messages."""

from __future__ import annotations

import json
from typing import Any

from indexer.errors import BadInputError
from indexer.store.records import AssetRecord
from search.envelope import MatchEnvelope, SearchHit
from search.proto_gen import nearmatch_pb2 as pb


def parse_metadata(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadInputError(f"expected metadata_json to be a JSON object, got invalid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise BadInputError(f"expected metadata_json to be a JSON object, got {type(value).__name__}")
    return value


# --------------------------------------------------------------------- conversions
def envelope_to_proto(envelope: MatchEnvelope) -> pb.MatchEnvelope:
    d = envelope.to_dict()
    return pb.MatchEnvelope(
        match=d["match"], confidence=d["confidence"], similarity_score=d["similarity_score"],
        match_type=d["match_type"], media_type=d["media_type"], processing_time_ms=d["processing_time_ms"],
        matched_segments=[pb.Segment(**segment) for segment in d["matched_segments"]],
        overlap_seconds=d["overlap_seconds"], reason=d["reason"],
    )


def hit_to_proto(hit: SearchHit) -> pb.SearchHit:
    return pb.SearchHit(asset_id=hit.asset_id, rank=hit.rank, metadata_json=json.dumps(hit.metadata),
                        envelope=envelope_to_proto(hit.envelope))


def asset_to_proto(record: AssetRecord) -> pb.Asset:
    return pb.Asset(
        asset_id=record.asset_id, media_type=record.media_type.value, source=record.source, sha256=record.sha256,
        metadata_json=json.dumps(record.metadata), duration_s=record.duration_s, width=record.width,
        height=record.height, fps_sampled=record.fps_sampled, n_frames=record.n_frames,
        has_audio=record.has_audio, ingested_at=record.ingested_at,
    )
