from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Media(_message.Message):
    __slots__ = ("data", "url", "server_path", "asset_id", "filename")
    DATA_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    SERVER_PATH_FIELD_NUMBER: _ClassVar[int]
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    url: str
    server_path: str
    asset_id: str
    filename: str
    def __init__(self, data: _Optional[bytes] = ..., url: _Optional[str] = ..., server_path: _Optional[str] = ..., asset_id: _Optional[str] = ..., filename: _Optional[str] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("source_start", "source_end", "target_start", "target_end", "score")
    SOURCE_START_FIELD_NUMBER: _ClassVar[int]
    SOURCE_END_FIELD_NUMBER: _ClassVar[int]
    TARGET_START_FIELD_NUMBER: _ClassVar[int]
    TARGET_END_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    source_start: float
    source_end: float
    target_start: float
    target_end: float
    score: float
    def __init__(self, source_start: _Optional[float] = ..., source_end: _Optional[float] = ..., target_start: _Optional[float] = ..., target_end: _Optional[float] = ..., score: _Optional[float] = ...) -> None: ...

class MatchEnvelope(_message.Message):
    __slots__ = ("match", "confidence", "similarity_score", "match_type", "media_type", "processing_time_ms", "matched_segments", "overlap_seconds", "reason")
    MATCH_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    MATCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MATCHED_SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    OVERLAP_SECONDS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    match: bool
    confidence: str
    similarity_score: float
    match_type: str
    media_type: str
    processing_time_ms: float
    matched_segments: _containers.RepeatedCompositeFieldContainer[Segment]
    overlap_seconds: float
    reason: str
    def __init__(self, match: _Optional[bool] = ..., confidence: _Optional[str] = ..., similarity_score: _Optional[float] = ..., match_type: _Optional[str] = ..., media_type: _Optional[str] = ..., processing_time_ms: _Optional[float] = ..., matched_segments: _Optional[_Iterable[_Union[Segment, _Mapping]]] = ..., overlap_seconds: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("asset_id", "rank", "metadata_json", "envelope")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    rank: int
    metadata_json: str
    envelope: MatchEnvelope
    def __init__(self, asset_id: _Optional[str] = ..., rank: _Optional[int] = ..., metadata_json: _Optional[str] = ..., envelope: _Optional[_Union[MatchEnvelope, _Mapping]] = ...) -> None: ...

class SearchRequest(_message.Message):
    __slots__ = ("media", "top_k", "matches_only")
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    MATCHES_ONLY_FIELD_NUMBER: _ClassVar[int]
    media: Media
    top_k: int
    matches_only: bool
    def __init__(self, media: _Optional[_Union[Media, _Mapping]] = ..., top_k: _Optional[int] = ..., matches_only: _Optional[bool] = ...) -> None: ...

class SearchResponse(_message.Message):
    __slots__ = ("query", "processing_time_ms", "results")
    QUERY_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    query: str
    processing_time_ms: float
    results: _containers.RepeatedCompositeFieldContainer[SearchHit]
    def __init__(self, query: _Optional[str] = ..., processing_time_ms: _Optional[float] = ..., results: _Optional[_Iterable[_Union[SearchHit, _Mapping]]] = ...) -> None: ...

class SearchUploadRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: SearchRequest
    chunk: bytes
    def __init__(self, header: _Optional[_Union[SearchRequest, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class MatchRequest(_message.Message):
    __slots__ = ("source", "target")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    source: Media
    target: Media
    def __init__(self, source: _Optional[_Union[Media, _Mapping]] = ..., target: _Optional[_Union[Media, _Mapping]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("asset_id", "media", "metadata_json")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    media: Media
    metadata_json: str
    def __init__(self, asset_id: _Optional[str] = ..., media: _Optional[_Union[Media, _Mapping]] = ..., metadata_json: _Optional[str] = ...) -> None: ...

class IngestResponse(_message.Message):
    __slots__ = ("asset", "status", "processing_time_ms")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    asset: Asset
    status: str
    processing_time_ms: float
    def __init__(self, asset: _Optional[_Union[Asset, _Mapping]] = ..., status: _Optional[str] = ..., processing_time_ms: _Optional[float] = ...) -> None: ...

class IngestUploadRequest(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: IngestRequest
    chunk: bytes
    def __init__(self, header: _Optional[_Union[IngestRequest, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("asset_id", "deleted")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    deleted: bool
    def __init__(self, asset_id: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class GetAssetRequest(_message.Message):
    __slots__ = ("asset_id",)
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    def __init__(self, asset_id: _Optional[str] = ...) -> None: ...

class Asset(_message.Message):
    __slots__ = ("asset_id", "media_type", "source", "sha256", "metadata_json", "duration_s", "width", "height", "fps_sampled", "n_frames", "has_audio", "ingested_at")
    ASSET_ID_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    DURATION_S_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    FPS_SAMPLED_FIELD_NUMBER: _ClassVar[int]
    N_FRAMES_FIELD_NUMBER: _ClassVar[int]
    HAS_AUDIO_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    asset_id: str
    media_type: str
    source: str
    sha256: str
    metadata_json: str
    duration_s: float
    width: int
    height: int
    fps_sampled: float
    n_frames: int
    has_audio: bool
    ingested_at: float
    def __init__(self, asset_id: _Optional[str] = ..., media_type: _Optional[str] = ..., source: _Optional[str] = ..., sha256: _Optional[str] = ..., metadata_json: _Optional[str] = ..., duration_s: _Optional[float] = ..., width: _Optional[int] = ..., height: _Optional[int] = ..., fps_sampled: _Optional[float] = ..., n_frames: _Optional[int] = ..., has_audio: _Optional[bool] = ..., ingested_at: _Optional[float] = ...) -> None: ...

class ListAssetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAssetsResponse(_message.Message):
    __slots__ = ("assets", "next_page_token")
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    assets: _containers.RepeatedCompositeFieldContainer[Asset]
    next_page_token: str
    def __init__(self, assets: _Optional[_Iterable[_Union[Asset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("assets", "assets_by_media_type", "indexed_frames", "indexed_windows", "disk_bytes", "stats_json")
    class AssetsByMediaTypeEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    ASSETS_FIELD_NUMBER: _ClassVar[int]
    ASSETS_BY_MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    INDEXED_FRAMES_FIELD_NUMBER: _ClassVar[int]
    INDEXED_WINDOWS_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    STATS_JSON_FIELD_NUMBER: _ClassVar[int]
    assets: int
    assets_by_media_type: _containers.ScalarMap[str, int]
    indexed_frames: int
    indexed_windows: int
    disk_bytes: int
    stats_json: str
    def __init__(self, assets: _Optional[int] = ..., assets_by_media_type: _Optional[_Mapping[str, int]] = ..., indexed_frames: _Optional[int] = ..., indexed_windows: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., stats_json: _Optional[str] = ...) -> None: ...
