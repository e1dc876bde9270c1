"""A Python client for the nearmatch gRPC service, usable without reading the proto.

    from search.service.client import NearmatchClient, asset, server_path

    with NearmatchClient("127.0.0.1:50051", token="s3cret") as client:
        client.ingest("sku-1", "photos/sku-1.jpg", metadata={"seller": 7})
        result = client.search("upload.jpg", top_k=5)      # same dict as `nearmatch search --json`
        envelope = client.match("a.jpg", "https://cdn.example.com/b.jpg")

Media arguments are a local path (str or Path; read here and sent as bytes,
streamed in chunks when large), raw ``bytes``, an ``http(s)://`` URL (fetched by
the server, with its SSRF guards), ``server_path("...")`` (a file on the server,
if the operator allows it) or ``asset("id")`` (an asset already in the catalog).
Failures raise the errors of ``indexer.errors`` (BadInputError, NotFoundError,
LimitExceededError, PermissionDeniedError, CatalogMismatchError) or ServiceError.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Union

import grpc

from indexer.decode.sources import is_http_url
from indexer.errors import NearmatchError, NotFoundError
from search.proto_gen import nearmatch_pb2 as pb
from search.proto_gen import nearmatch_pb2_grpc as pb_grpc
from search.service.status import ERROR_OF_STATUS

LOG = logging.getLogger(__name__)

class ServiceError(NearmatchError):
    """Any other failure: UNAUTHENTICATED, DEADLINE_EXCEEDED, UNAVAILABLE, INTERNAL. ``code`` is the StatusCode."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"server answered {code.name}: {message}")
        self.code = code


@dataclasses.dataclass(frozen=True)
class MediaRef:
    kind: str  # "server_path" or "asset_id"
    value: str


def server_path(path: str) -> MediaRef:
    """A file on the server's disk (refused unless the server runs with --allow-server-paths)."""
    return MediaRef("server_path", str(path))


def asset(asset_id: str) -> MediaRef:
    """An asset already in the catalog, as match or search input."""
    return MediaRef("asset_id", asset_id)


MediaArg = Union[str, Path, bytes, MediaRef]


class NearmatchClient:
    """One channel to a nearmatch server. Methods return plain dicts in the CLI's JSON shape."""

    def __init__(self, address: str, token: str | None = None, tls: bool = False,
                 root_certificates: bytes | None = None, timeout_s: float | None = 120.0,
                 max_message_bytes: int = 64 * 1024 * 1024, stream_above_bytes: int = 4 * 1024 * 1024,
                 chunk_bytes: int = 1024 * 1024) -> None:
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if tls or root_certificates is not None:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = pb_grpc.NearmatchStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token.strip()}"),) if token else ()
        self.timeout_s = timeout_s
        self.stream_above_bytes = stream_above_bytes
        self.chunk_bytes = chunk_bytes

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "NearmatchClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- API
    def search(self, media: MediaArg, top_k: int = 10, matches_only: bool = False,
               timeout_s: float | None = None) -> dict[str, Any]:
        """{"query", "processing_time_ms", "results": [hit, ...]}, as ``nearmatch search --json``."""
        header = pb.SearchRequest(top_k=top_k, matches_only=matches_only)
        data, name = self._local_bytes(media)
        if data is not None and len(data) > self.stream_above_bytes:
            header.media.filename = name
            stream = self._upload(pb.SearchUploadRequest, header, data)
            response = self._call(self._stub.SearchUpload, stream, timeout_s)
        else:
            header.media.CopyFrom(self._media(media))
            response = self._call(self._stub.Search, header, timeout_s)
        return search_response_to_dict(response)

    def match(self, source: MediaArg, target: MediaArg, timeout_s: float | None = None) -> dict[str, Any]:
        """The match envelope of ``source`` (query) against ``target``, as ``nearmatch match --json``."""
        request = pb.MatchRequest(source=self._media(source), target=self._media(target))
        return envelope_to_dict(self._call(self._stub.Match, request, timeout_s))

    def ingest(self, asset_id: str, media: MediaArg, metadata: dict[str, Any] | None = None,
               timeout_s: float | None = None) -> dict[str, Any]:
        """{"asset_id", "status": added|replaced|unchanged, "asset": {...}, "processing_time_ms"}."""
        header = pb.IngestRequest(asset_id=asset_id, metadata_json=json.dumps(metadata or {}))
        data, name = self._local_bytes(media)
        if data is not None and len(data) > self.stream_above_bytes:
            header.media.filename = name
            response = self._call(self._stub.IngestUpload, self._upload(pb.IngestUploadRequest, header, data),
                                  timeout_s)
        else:
            header.media.CopyFrom(self._media(media))
            response = self._call(self._stub.Ingest, header, timeout_s)
        return {"asset_id": response.asset.asset_id, "status": response.status,
                "asset": asset_to_dict(response.asset),
                "processing_time_ms": round(response.processing_time_ms, 1)}

    def delete(self, asset_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        response = self._call(self._stub.Delete, pb.DeleteRequest(asset_id=asset_id), timeout_s)
        return {"asset_id": response.asset_id, "deleted": response.deleted}

    def get_asset(self, asset_id: str, timeout_s: float | None = None) -> dict[str, Any]:
        return asset_to_dict(self._call(self._stub.GetAsset, pb.GetAssetRequest(asset_id=asset_id), timeout_s))

    def list_assets(self, page_size: int = 100, page_token: str = "",
                    timeout_s: float | None = None) -> dict[str, Any]:
        """One page of assets: {"assets": [...], "next_page_token": "..."}, as ``nearmatch list --json``."""
        response = self._call(self._stub.ListAssets, pb.ListAssetsRequest(page_size=page_size, page_token=page_token),
                              timeout_s)
        return {"assets": [asset_to_dict(a) for a in response.assets], "next_page_token": response.next_page_token}

    def stats(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The catalog statistics, as ``nearmatch stats --json``."""
        response = self._call(self._stub.Stats, pb.StatsRequest(), timeout_s)
        return json.loads(response.stats_json)

    # ----------------------------------------------------------------- helpers
    def _call(self, method: Any, request: Any, timeout_s: float | None) -> Any:
        try:
            return method(request, timeout=timeout_s if timeout_s is not None else self.timeout_s,
                          metadata=self._metadata)
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details() or ""
            error_cls = ERROR_OF_STATUS.get(code)
            if error_cls is not None:
                raise error_cls(details) from None
            raise ServiceError(code, details) from None

    def _local_bytes(self, media: MediaArg) -> tuple[bytes | None, str]:
        """(bytes, name) for media this client reads itself; (None, "") for URLs and references."""
        if isinstance(media, bytes):
            return media, "<bytes>"
        if isinstance(media, MediaRef) or _is_url(media):
            return None, ""
        path = Path(media)
        if not path.is_file():
            raise NotFoundError(f"expected a readable file, got no file at {path}")
        return path.read_bytes(), path.name

    def _media(self, media: MediaArg) -> pb.Media:
        if isinstance(media, MediaRef):
            return pb.Media(**{media.kind: media.value})
        if isinstance(media, (str, Path)) and _is_url(media):
            return pb.Media(url=str(media))
        data, name = self._local_bytes(media)
        return pb.Media(data=data, filename=name)

    def _upload(self, message_cls: Any, header: Any, data: bytes) -> Iterator[Any]:
        yield message_cls(header=header)
        view = memoryview(data)
        for start in range(0, len(data), self.chunk_bytes):
            yield message_cls(chunk=bytes(view[start : start + self.chunk_bytes]))


def _is_url(media: object) -> bool:
    return is_http_url(media)


# --------------------------------------------------------------------- proto -> dict
def envelope_to_dict(envelope: pb.MatchEnvelope) -> dict[str, Any]:
    return {
        "match": envelope.match,
        "confidence": envelope.confidence,
        "similarity_score": round(envelope.similarity_score, 4),
        "match_type": envelope.match_type,
        "media_type": envelope.media_type,
        "processing_time_ms": round(envelope.processing_time_ms, 1),
        "matched_segments": [
            {"source_start": s.source_start, "source_end": s.source_end, "target_start": s.target_start,
             "target_end": s.target_end, "score": s.score}
            for s in envelope.matched_segments
        ],
        "overlap_seconds": round(envelope.overlap_seconds, 3),
        "reason": envelope.reason,
    }


def hit_to_dict(hit: pb.SearchHit) -> dict[str, Any]:
    out = envelope_to_dict(hit.envelope)
    out.update({"asset_id": hit.asset_id, "rank": hit.rank,
                "metadata": json.loads(hit.metadata_json) if hit.metadata_json else {}})
    return out


def search_response_to_dict(response: pb.SearchResponse) -> dict[str, Any]:
    return {"query": response.query, "processing_time_ms": round(response.processing_time_ms, 1),
            "results": [hit_to_dict(hit) for hit in response.results]}


def asset_to_dict(record: pb.Asset) -> dict[str, Any]:
    return {
        "asset_id": record.asset_id, "media_type": record.media_type, "source": record.source,
        "sha256": record.sha256, "metadata": json.loads(record.metadata_json) if record.metadata_json else {},
        "duration_s": record.duration_s, "width": record.width, "height": record.height,
        "fps_sampled": record.fps_sampled, "n_frames": record.n_frames, "has_audio": record.has_audio,
        "ingested_at": record.ingested_at,
    }
