"""The nearmatch gRPC server: a thin layer over the functions the CLI calls.

``create_server(config) -> (server, port)`` builds and starts a server (port 0
picks a free one); ``stop_server(server)`` stops it gracefully (in-flight
requests finish within the grace period, then the batcher stops and the
catalog is flushed and closed); ``serve(config)`` runs one until SIGTERM/SIGINT.

Concurrency: one catalog and one extractor are shared by all requests. Queries
can go through a micro-batching queue (``search.service.embed_batcher``) so concurrent
requests share model calls (``batching="on"``). It is off by default: on the
2-core CPU machines measured (benchmarks/results/load.md) one model thread fed
merged batches gave less throughput than one model call per request thread,
with aspect-preserving and with square resizing alike. "auto" turns it on only
where inputs share one shape (the extractor's SQUARE resize policy).

Writes (Ingest, Delete) are serialized by a lock that reads never take; the catalog's own lock is held only while FAISS is touched.

Limits (all in ``ServerConfig``): messages up to ``max_message_bytes`` each way
(default 64 MiB; a larger unary request fails with RESOURCE_EXHAUSTED before it
reaches a handler), streamed uploads up to ``max_upload_bytes`` (512 MiB),
URL fetches per ``FetchConfig``, image pixels and query bytes per the search
config, and at most ``max_concurrent_rpcs`` requests in flight.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from indexer.store.catalog import Catalog
from indexer.errors import (BadInputError, LimitExceededError, NearmatchError,
                            NotFoundError, PermissionDeniedError)
from indexer.features.extractor import FrameEmbedder, ResizePolicy
from indexer.features.config import FeatureConfig
from indexer.store.listing import DEFAULT_PAGE_SIZE, list_page
from indexer.store.open_catalog import open_catalog_features
from indexer.ingest import IngestItem, Ingestor
from indexer.decode.sources import MediaSource, is_http_url
from search.service.embed_batcher import BatchConfig, BatchingEmbedder
from search.proto_gen import nearmatch_pb2 as pb
from search.proto_gen import nearmatch_pb2_grpc as pb_grpc
from search.media import SearchConfig, match_media, search_media
from search.service.auth import AuthInterceptor
from search.service.status import ERROR_OF_NAME, status_of
from search.service.convert import asset_to_proto, envelope_to_proto, hit_to_proto, parse_metadata
from search.thresholds import defaults_for
from search.service.url_fetch import FetchConfig, fetch_url

LOG = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Nearmatch"].full_name
T = TypeVar("T")

@dataclasses.dataclass(frozen=True)
class ServerConfig:
    catalog: Path
    host: str = "127.0.0.1"
    port: int = 50051  # 0 picks a free port
    workers: int = 8  # request threads
    max_concurrent_rpcs: int = 64  # beyond this, RESOURCE_EXHAUSTED at once
    max_message_bytes: int = 64 * 1024 * 1024
    max_upload_bytes: int = 512 * 1024 * 1024
    auth_token: str | None = None  # bearer token required on every RPC but health checks
    tls_cert: Path | None = None
    tls_key: Path | None = None
    fetch: FetchConfig = FetchConfig()
    allow_server_paths: bool = False
    server_path_roots: tuple[Path, ...] = ()  # when set, server paths must lie under one of these
    batching: str = "off"  # "on", "off", or "auto": on when the extractor resizes to a fixed square
    batch: BatchConfig = BatchConfig()
    grace_s: float = 10.0
    model: str | None = None  # visual model for a new catalog (default: sscd_distilled)
    threads: int = 2  # ONNX intra-op threads

    def __post_init__(self) -> None:
        object.__setattr__(self, "catalog", Path(self.catalog))
        if (self.tls_cert is None) != (self.tls_key is None):
            raise BadInputError("expected both --tls-cert and --tls-key, or neither")
        if self.workers < 1 or self.max_concurrent_rpcs < 1:
            raise BadInputError(f"expected workers and max_concurrent_rpcs >= 1, got {self.workers}, "
                                f"{self.max_concurrent_rpcs}")
        if self.batching not in ("auto", "on", "off"):
            raise BadInputError(f"expected batching auto, on or off, got {self.batching!r}")
        if self.auth_token is not None and not self.auth_token.strip():
            raise BadInputError("expected a non-empty auth token, got an empty token file")


class NearmatchServicer(pb_grpc.NearmatchServicer):
    """Converts messages and calls search.media / search.media / indexer.ingest / the catalog."""

    def __init__(self, config: ServerConfig, catalog: Catalog, features: FeatureConfig,
                 embedder: FrameEmbedder) -> None:
        self.config = config
        self.catalog = catalog
        self.features = features
        self.embedder = embedder
        batching = config.batching == "on" or (
            config.batching == "auto" and embedder.config.resize is ResizePolicy.SQUARE)
        self.query_embedder: Any = BatchingEmbedder(embedder, config.batch) if batching else embedder
        LOG.info("request batching %s", "on" if batching else "off")
        self._write_lock = threading.Lock()

    def close(self) -> None:
        if isinstance(self.query_embedder, BatchingEmbedder):
            self.query_embedder.close()

    # ----------------------------------------------------------------- RPCs
    def Search(self, request: pb.SearchRequest, context: grpc.ServicerContext) -> pb.SearchResponse:
        return self._guard(context, lambda: self._search(request, self._source(request.media, context), context))

    def SearchUpload(self, request_iterator: Iterator[pb.SearchUploadRequest],
                     context: grpc.ServicerContext) -> pb.SearchResponse:
        def run() -> pb.SearchResponse:
            header, data = self._receive_upload(request_iterator, context)
            return self._search(header, MediaSource.from_bytes(data, header.media.filename or "<upload>"), context)
        return self._guard(context, run)

    def Match(self, request: pb.MatchRequest, context: grpc.ServicerContext) -> pb.MatchEnvelope:
        def run() -> pb.MatchEnvelope:
            source = self._source(request.source, context)
            target = self._source(request.target, context)
            self._set_model_timeout(context)
            return envelope_to_proto(match_media(source, target, self.query_embedder, self._search_config(),
                                                 features=self.features))
        return self._guard(context, run)

    def Ingest(self, request: pb.IngestRequest, context: grpc.ServicerContext) -> pb.IngestResponse:
        return self._guard(context, lambda: self._ingest(self._ingest_item(request, context)))

    def IngestUpload(self, request_iterator: Iterator[pb.IngestUploadRequest],
                     context: grpc.ServicerContext) -> pb.IngestResponse:
        def run() -> pb.IngestResponse:
            header, data = self._receive_upload(request_iterator, context)
            return self._ingest(_bytes_item(header, data, header.media.filename or "<upload>"))
        return self._guard(context, run)

    def Delete(self, request: pb.DeleteRequest, context: grpc.ServicerContext) -> pb.DeleteResponse:
        def run() -> pb.DeleteResponse:
            with self._write_lock:
                self.catalog.delete(request.asset_id)
            return pb.DeleteResponse(asset_id=request.asset_id, deleted=True)
        return self._guard(context, run)

    def GetAsset(self, request: pb.GetAssetRequest, context: grpc.ServicerContext) -> pb.Asset:
        return self._guard(context, lambda: asset_to_proto(self.catalog.require(request.asset_id)))

    def Stats(self, request: pb.StatsRequest, context: grpc.ServicerContext) -> pb.StatsResponse:
        def run() -> pb.StatsResponse:
            stats = self.catalog.stats()
            return pb.StatsResponse(
                assets=int(stats.get("assets", 0)),
                assets_by_media_type={k: int(v) for k, v in stats.get("assets_by_media_type", {}).items()},
                indexed_frames=int(stats.get("indexed_frames", 0)),
                indexed_windows=int(stats.get("indexed_windows", 0)),
                disk_bytes=int(stats.get("disk_bytes", 0)),
                stats_json=json.dumps(stats, sort_keys=True),
            )
        return self._guard(context, run)

    def ListAssets(self, request: pb.ListAssetsRequest, context: grpc.ServicerContext) -> pb.ListAssetsResponse:
        def run() -> pb.ListAssetsResponse:
            records, token = list_page(self.catalog, request.page_size or DEFAULT_PAGE_SIZE, request.page_token)
            return pb.ListAssetsResponse(assets=[asset_to_proto(r) for r in records], next_page_token=token)
        return self._guard(context, run)

    # ----------------------------------------------------------------- helpers
    def _guard(self, context: grpc.ServicerContext, fn: Callable[[], T]) -> T:
        """Run ``fn``; turn every failure into a status code with a one-line message."""
        try:
            _check_deadline(context)
            return fn()
        except NearmatchError as exc:
            context.abort(status_of(exc), str(exc))
        except TimeoutError:
            context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "expected to finish before the deadline, got past it")
        except Exception as exc:  # noqa: BLE001 - the server keeps serving; the caller hears INTERNAL
            LOG.exception("internal error")
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        raise AssertionError("context.abort returned")  # pragma: no cover

    def _search_config(self, **options: Any) -> SearchConfig:
        """Search settings with the thresholds calibrated for this catalog's model."""
        return SearchConfig(thresholds=defaults_for(self.features.visual.model.value), **options)

    def _search(self, request: pb.SearchRequest, source: MediaSource,
                context: grpc.ServicerContext) -> pb.SearchResponse:
        config = self._search_config(top_k=request.top_k or 10, matches_only=request.matches_only)
        self._set_model_timeout(context)
        result = search_media(self.catalog, self.query_embedder, source, config, features=self.features)
        return pb.SearchResponse(query=result.query, processing_time_ms=result.processing_time_ms,
                                 results=[hit_to_proto(hit) for hit in result.hits])

    def _ingest(self, item: IngestItem) -> pb.IngestResponse:
        started = time.perf_counter()
        with self._write_lock:
            existed = self.catalog.get(item.asset_id) is not None
            report = Ingestor(self.catalog, self.embedder, features=self.features).run([item])
        if report.failed:
            failure = report.failed[0]
            raise ERROR_OF_NAME.get(failure.get("kind", ""), BadInputError)(failure["error"])
        status = "unchanged" if report.skipped else ("replaced" if existed else "added")
        return pb.IngestResponse(asset=asset_to_proto(self.catalog.require(item.asset_id)), status=status,
                                 processing_time_ms=(time.perf_counter() - started) * 1000.0)

    def _ingest_item(self, request: pb.IngestRequest,
                     context: grpc.ServicerContext) -> IngestItem:
        """The IngestItem for a request; URL media is fetched here, before the write lock."""
        metadata = parse_metadata(request.metadata_json)
        kind = request.media.WhichOneof("source")
        if kind == "server_path":
            path = self._server_path(request.media.server_path)
            return IngestItem(asset_id=request.asset_id, path=path, metadata=metadata)
        if kind == "asset_id":
            raise BadInputError("expected media data, a URL or a server path to ingest, got an asset_id")
        source = self._source(request.media, context)
        return _bytes_item(request, source.read_bytes(), source.name)

    def _source(self, media: pb.Media, context: grpc.ServicerContext) -> MediaSource:
        kind = media.WhichOneof("source")
        if kind == "data":
            return MediaSource.from_bytes(media.data, media.filename or "<bytes>")
        if kind == "url":
            remaining = context.time_remaining()
            fetch = self.config.fetch
            if remaining is not None and remaining < fetch.timeout_s:
                fetch = dataclasses.replace(fetch, timeout_s=max(remaining, 0.001))
            return MediaSource.from_bytes(fetch_url(media.url, fetch), name=media.url)
        if kind == "server_path":
            return MediaSource.from_path(self._server_path(media.server_path))
        if kind == "asset_id":
            record = self.catalog.require(media.asset_id)
            if is_http_url(record.source):
                return MediaSource.from_bytes(fetch_url(record.source, self.config.fetch), name=record.source)
            path = Path(record.source)
            if not path.is_file():
                raise NotFoundError(f"expected the source file of asset {media.asset_id!r}, got none at {path}")
            return MediaSource.from_path(path)
        raise BadInputError("expected media as data, url, server_path or asset_id, got none")

    def _server_path(self, raw: str) -> Path:
        if not self.config.allow_server_paths:
            raise PermissionDeniedError("expected media as data or URL, got a server path; "
                                        "server paths are disabled (start the server with --allow-server-paths)")
        path = Path(raw).resolve()
        roots = [root.resolve() for root in self.config.server_path_roots]
        if roots and not any(path == root or root in path.parents for root in roots):
            raise PermissionDeniedError(f"expected a path under {', '.join(map(str, roots))}, got {raw}")
        if not path.is_file():
            raise NotFoundError(f"expected a file on the server, got nothing at {raw}")
        return path

    def _receive_upload(self, request_iterator: Iterator[Any], context: grpc.ServicerContext) -> tuple[Any, bytes]:
        """First message the header, then chunks; returns (header, all bytes) within the upload cap."""
        header = None
        chunks: list[bytes] = []
        total = 0
        for message in request_iterator:
            part = message.WhichOneof("part")
            if header is None:
                if part != "header":
                    raise BadInputError(f"expected the first upload message to be a header, got {part}")
                header = message.header
                if header.media.WhichOneof("source") is not None:
                    raise BadInputError("expected an upload header without media, got media in it")
                continue
            if part != "chunk":
                raise BadInputError(f"expected data chunks after the header, got {part}")
            total += len(message.chunk)
            if total > self.config.max_upload_bytes:
                raise LimitExceededError(f"expected an upload of at most {self.config.max_upload_bytes} bytes, "
                                         f"got more")
            chunks.append(message.chunk)
            _check_deadline(context)
        if header is None:
            raise BadInputError("expected an upload header and data chunks, got an empty stream")
        return header, b"".join(chunks)

    def _set_model_timeout(self, context: grpc.ServicerContext) -> None:
        if isinstance(self.query_embedder, BatchingEmbedder):
            self.query_embedder.set_thread_timeout(context.time_remaining())


def _bytes_item(request: pb.IngestRequest, data: bytes, name: str) -> IngestItem:
    """The media's name is the recorded source of an uploaded asset."""
    return IngestItem(asset_id=request.asset_id, data=data, name=name, metadata=parse_metadata(request.metadata_json))


def _check_deadline(context: grpc.ServicerContext) -> None:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        raise TimeoutError("deadline passed")


# --------------------------------------------------------------------- lifecycle
_SERVICES: dict[int, tuple[NearmatchServicer, health.HealthServicer]] = {}


def create_server(config: ServerConfig) -> tuple[grpc.Server, int]:
    """Open the catalog, load the extractor, bind and start; returns (server, bound port)."""
    catalog, features = open_catalog_features(config.catalog, config.model)
    try:
        embedder = FrameEmbedder(dataclasses.replace(features.visual, threads=config.threads))
        servicer = NearmatchServicer(config, catalog, features, embedder)
    except BaseException:
        catalog.close()
        raise
    interceptors = [] if config.auth_token is None else [AuthInterceptor(config.auth_token)]
    options = [
        ("grpc.max_receive_message_length", config.max_message_bytes),
        ("grpc.max_send_message_length", config.max_message_bytes),
        ("grpc.so_reuseport", 0),  # a port already in use is an error, not a silent second listener
    ]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="rpc"),
                         interceptors=interceptors, options=options,
                         maximum_concurrent_rpcs=config.max_concurrent_rpcs)
    pb_grpc.add_NearmatchServicer_to_server(servicer, server)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server)
    address = f"{config.host}:{config.port}"
    try:
        if config.tls_cert is not None and config.tls_key is not None:
            credentials = grpc.ssl_server_credentials([(config.tls_key.read_bytes(), config.tls_cert.read_bytes())])
            port = server.add_secure_port(address, credentials)
        else:
            port = server.add_insecure_port(address)
    except RuntimeError as exc:
        servicer.close()
        catalog.close()
        raise BadInputError(f"expected to listen on {address}, got {exc}") from exc
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    _SERVICES[id(server)] = (servicer, health_servicer)
    LOG.info("serving %s on %s:%d (%s)", config.catalog, config.host, port,
             "TLS" if config.tls_cert else "plaintext")
    return server, port


def stop_server(server: grpc.Server, grace_s: float | None = None) -> None:
    """Refuse new calls, let in-flight ones finish within ``grace_s``, then flush and close the catalog."""
    servicer, health_servicer = _SERVICES.pop(id(server), (None, None))
    if health_servicer is not None:
        health_servicer.enter_graceful_shutdown()
    grace = grace_s if grace_s is not None else (servicer.config.grace_s if servicer else 0.0)
    server.stop(grace).wait()
    if servicer is not None:
        servicer.close()
        with servicer._write_lock:
            servicer.catalog.close()


def serve(config: ServerConfig, on_ready: Callable[[int], None] | None = None) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully; ``on_ready(port)`` once listening."""
    server, port = create_server(config)
    done = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        LOG.info("signal %d: shutting down (grace %.0f s)", signum, config.grace_s)
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if on_ready is not None:
            on_ready(port)
        done.wait()
    finally:
        stop_server(server, config.grace_s)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
