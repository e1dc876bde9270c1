"""Ingestion: turn files, directories and manifests into catalog assets.

Decoding and preprocessing run in a small thread pool ahead of the model
(Pillow and PyAV release the GIL), so the ONNX session is fed full batches
while the next images decode; with an embedder built for bulk work
(``ExtractorConfig.for_bulk``), that many batches are embedded side by side
and stored in the order they were sent. One bad file is reported and skipped; the rest
goes on. Unchanged assets (same id, same sha256) are skipped, so a re-run resumes.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from indexer.decode.audio import decode_audio
from indexer.features.audio_fingerprint import Fingerprint, fingerprint
from indexer.store.catalog import Catalog
from indexer.store.records import AssetRecord, NewAsset
from indexer.errors import BadInputError, NearmatchError, NotFoundError
from indexer.features.extractor import FrameEmbedder
from indexer.features.config import FeatureConfig
from indexer.decode.image import ImageDecodeConfig, decode_picture
from indexer.decode.sources import MediaSource
from indexer.media_types import MediaType
from indexer.decode.probe import detect_media_type
from indexer.decode.video import sample_frames

LOG = logging.getLogger(__name__)

UrlFetcher = Callable[[str], bytes]


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    image: ImageDecodeConfig = ImageDecodeConfig()
    max_bytes: int = 4 * 1024**3  # any single file; images have their own, smaller cap
    prefetch_workers: int = 2
    # Preprocessed images wait for a full batch of their input shape, up to this many in all
    # (about 0.4 MB each at the default size); more waiting means fuller, cheaper model calls.
    max_pending_images: int = 256
    flush_every: int = 2000  # save the FAISS indexes every this many assets


@dataclasses.dataclass(frozen=True)
class IngestItem:
    """One asset to ingest: a local file, a URL (fetched by the caller's fetcher) or bytes in memory."""

    asset_id: str
    path: Path | None = None
    url: str | None = None
    data: bytes | None = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    name: str = "<bytes>"  # what a ``data`` item is called in reports and records

    def __post_init__(self) -> None:
        if sum(x is not None for x in (self.path, self.url, self.data)) != 1:
            raise BadInputError(f"{self.asset_id}: expected exactly one of path, url or data")

    @property
    def origin(self) -> str:
        if self.path is not None:
            return str(self.path)
        return self.url if self.url is not None else self.name


@dataclasses.dataclass
class IngestReport:
    ingested: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)
    failed: list[dict[str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"ingested": len(self.ingested), "skipped": len(self.skipped), "failed": self.failed,
                "seconds": round(self.seconds, 3)}


@dataclasses.dataclass(frozen=True)
class _Prepared:
    """An item decoded and ready for the model (or found unchanged)."""

    item: IngestItem
    record: AssetRecord | None  # None: unchanged, skip
    model_input: np.ndarray | None = None  # preprocessed image (h, w, 3) uint8, embedded in a batch
    frame_embeddings: np.ndarray | None = None  # (n, 512) float32 of a video, embedded by the worker
    frame_times_s: np.ndarray | None = None
    audio: Fingerprint | None = None  # landmark hashes of an audio file or a video's soundtrack


ID_MODES = ("auto", "name", "relative", "path")


def items_from_paths(paths: Iterable[str | Path], id_mode: str = "auto", id_prefix: str = "") -> Iterator[IngestItem]:
    """Items of file and directory arguments, with asset ids chosen by ``id_mode``, after ``id_prefix``.

    ``auto``: a file's name, and for files under a directory their path relative
    to it; ``name``: always the file name; ``relative``: relative to the
    argument's parent folder (``photos/a/x.jpg`` for ``photos/``); ``path``:
    the absolute path.
    """
    if id_mode not in ID_MODES:
        raise BadInputError(f"expected an id mode among {', '.join(ID_MODES)}, got {id_mode!r}")
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield IngestItem(asset_id=id_prefix + _asset_id(path, path.parent, id_mode, path.name), path=path)
        elif path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = file.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue  # hidden files and folders (.DS_Store, .git) are not media
                auto = relative.as_posix()
                yield IngestItem(asset_id=id_prefix + _asset_id(file, path.resolve().parent, id_mode, auto), path=file)
        else:
            raise NotFoundError(f"expected a file or directory, got nothing at {path}")


def _asset_id(file: Path, parent: Path, id_mode: str, auto: str) -> str:
    if id_mode == "name":
        return file.name
    if id_mode == "path":
        return file.resolve().as_posix()
    if id_mode == "relative":
        return file.resolve().relative_to(parent.resolve()).as_posix()
    return auto


def check_distinct_ids(items: Iterable[IngestItem]) -> None:
    """BadInputError naming both sources when two items of one run would get the same asset id."""
    seen: dict[str, str] = {}
    for item in items:
        if item.asset_id in seen:
            raise BadInputError(
                f"expected distinct asset ids, got {item.asset_id!r} for both {seen[item.asset_id]} and "
                f"{item.origin}; choose ids with --id-from relative or --id-from path, or ingest them separately "
                "with different --id-prefix values")
        seen[item.asset_id] = item.origin


def items_from_manifest(manifest: str | Path) -> Iterator[IngestItem]:
    """JSON lines of {"asset_id", "path" or "url", "metadata"}; relative paths are from the manifest."""
    manifest = Path(manifest)
    if not manifest.is_file():
        raise NotFoundError(f"expected a manifest file, got nothing at {manifest}")
    with open(manifest, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"{manifest}:{number}"
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInputError(f"{where}: expected a JSON object, got invalid JSON ({exc})") from exc
            if not isinstance(entry, dict) or not isinstance(entry.get("asset_id"), str):
                raise BadInputError(f'{where}: expected an object with a string "asset_id", got {line.strip()[:80]}')
            metadata = entry.get("metadata") or {}
            if not isinstance(metadata, dict):
                raise BadInputError(f'{where}: expected "metadata" to be an object, got {type(metadata).__name__}')
            path = entry.get("path")
            yield IngestItem(
                asset_id=entry["asset_id"],
                path=None if path is None else (manifest.parent / path),
                url=entry.get("url"),
                metadata=metadata,
            )


class Ingestor:
    """Ingests items into one catalog with one embedder."""

    def __init__(self, catalog: Catalog, embedder: FrameEmbedder, features: FeatureConfig = FeatureConfig(),
                 config: IngestConfig = IngestConfig(), fetch_url: UrlFetcher | None = None) -> None:
        self.catalog = catalog
        self.embedder = embedder
        self.features = features
        self.config = config
        self.fetch_url = fetch_url

    def run(self, items: Iterable[IngestItem], on_done: Callable[[str, str], None] | None = None) -> IngestReport:
        """Ingest ``items``; ``on_done(asset_id, outcome)`` is called per item for progress."""
        report = IngestReport()
        started = time.perf_counter()
        # Preprocessed images wait here by input shape until a full batch of one
        # shape can go to the model in a single call.
        pending: dict[tuple[int, ...], list[_Prepared]] = {}
        # Batches in the model (up to ``concurrent_calls`` at once), stored in submission order.
        in_model: collections.deque[tuple[list[_Prepared], concurrent.futures.Future]] = collections.deque()
        batch_size = self.embedder.config.batch_size
        calls = self.embedder.config.concurrent_calls
        since_flush = 0

        def finish(asset_id: str, outcome: str) -> None:
            if on_done is not None:
                on_done(asset_id, outcome)

        def store_group(group: list[_Prepared], embeddings: np.ndarray) -> None:
            nonlocal since_flush
            self.catalog.put_assets([NewAsset(prepared.record, embedding[None, :])
                                     for prepared, embedding in zip(group, embeddings)])
            for prepared in group:
                report.ingested.append(prepared.item.asset_id)
                finish(prepared.item.asset_id, "ingested")
            since_flush += len(group)

        def store_oldest() -> None:
            group, embeddings = in_model.popleft()
            store_group(group, embeddings.result())

        def embed_shape(shape: tuple[int, ...]) -> None:
            group = pending.pop(shape)
            batch = np.stack([prepared.model_input for prepared in group])
            in_model.append((group, model_pool.submit(self.embedder.embed_preprocessed, batch)))
            while len(in_model) > calls:
                store_oldest()

        def store_waiting() -> None:
            for shape in list(pending):
                embed_shape(shape)
            while in_model:
                store_oldest()

        def waiting(asset_id: str) -> bool:
            groups = [*pending.values(), *(group for group, _ in in_model)]
            return any(p.item.asset_id == asset_id for group in groups for p in group)

        def add_image(prepared: _Prepared) -> None:
            shape = prepared.model_input.shape
            pending.setdefault(shape, []).append(prepared)
            if len(pending[shape]) >= batch_size:
                embed_shape(shape)
            elif sum(len(group) for group in pending.values()) > self.config.max_pending_images:
                embed_shape(max(pending, key=lambda s: len(pending[s])))  # bounded memory

        with (concurrent.futures.ThreadPoolExecutor(self.config.prefetch_workers) as pool,
              concurrent.futures.ThreadPoolExecutor(calls) as model_pool):
            for item, future in _bounded_map(pool, self._prepare, items, 4 * batch_size):
                try:
                    prepared = future.result()
                    if prepared.record is not None and waiting(item.asset_id):
                        store_waiting()  # the same id twice in one run: keep the order, the later one wins
                    if prepared.record is None:
                        report.skipped.append(item.asset_id)
                        finish(item.asset_id, "skipped")
                    elif prepared.model_input is not None:
                        add_image(prepared)
                    else:
                        self.catalog.put_asset(prepared.record, prepared.frame_embeddings, prepared.frame_times_s,
                                               prepared.audio)
                        report.ingested.append(item.asset_id)
                        since_flush += 1
                        finish(item.asset_id, "ingested")
                except NearmatchError as exc:
                    LOG.info("skipping %s: %s", item.origin, exc)  # the summary lists it once
                    report.failed.append({"asset_id": item.asset_id, "path": item.origin, "error": str(exc),
                                          "kind": type(exc).__name__})
                    finish(item.asset_id, "failed")
                if since_flush >= self.config.flush_every:
                    store_waiting()
                    self.catalog.flush()
                    since_flush = 0
            store_waiting()
        self.catalog.flush()
        report.seconds = time.perf_counter() - started
        return report

    def _prepare(self, item: IngestItem) -> _Prepared:
        """Runs in a worker thread: read, hash, skip-if-unchanged, decode, preprocess."""
        source = self._source(item)
        sha256 = source.sha256()
        existing = self.catalog.get(item.asset_id)
        if existing is not None and existing.sha256 == sha256 and existing.metadata == item.metadata:
            return _Prepared(item, None)
        media_type = detect_media_type(source)
        base = AssetRecord(asset_id=item.asset_id, media_type=media_type, source=item.origin, sha256=sha256,
                           metadata=item.metadata)
        if media_type is MediaType.IMAGE:
            image = decode_picture(source.read_bytes(), source.name, self.config.image,
                                   draft_size=self.embedder.config.draft_size)
            width, height = image.size
            record = dataclasses.replace(base, width=width, height=height)
            return _Prepared(item, record, model_input=self.embedder.preprocess(image))
        if media_type is MediaType.VIDEO:
            # Embedded here, in the worker, so only 2 KB per frame waits in the queue, not the pixels.
            video = sample_frames(source, self.features.video)
            record = dataclasses.replace(base, duration_s=video.duration_s, width=video.width, height=video.height,
                                         fps_sampled=self.features.video.fps, has_audio=video.has_audio)
            soundtrack = audio_fingerprint(source, self.features) if video.has_audio else None
            return _Prepared(item, record, frame_embeddings=self.embedder.embed(video.frames),
                             frame_times_s=video.times_s, audio=soundtrack)
        fp = audio_fingerprint(source, self.features)
        if len(fp) == 0:
            raise BadInputError(f"{source.name}: expected audible sound, got silence or noise with no landmarks")
        return _Prepared(item, dataclasses.replace(base, duration_s=fp.duration_s, has_audio=True), audio=fp)

    def _source(self, item: IngestItem) -> MediaSource:
        if item.url is not None:
            if self.fetch_url is None:
                raise BadInputError(f"{item.asset_id}: URL items need a URL fetcher; none was configured")
            source = MediaSource.from_bytes(self.fetch_url(item.url), name=item.url)
        elif item.data is not None:
            source = MediaSource.from_bytes(item.data, name=item.name)
        else:
            source = MediaSource.from_path(item.path)
        source.check(self.config.max_bytes)
        return source


def audio_fingerprint(source: MediaSource, features: FeatureConfig) -> Fingerprint:
    """Landmark fingerprint of the first audio stream of ``source`` (an audio file or a video)."""
    signal = decode_audio(source.path if source.path is not None else source.data, features.audio_decode)
    return fingerprint(signal, features.audio)


def _bounded_map(pool: concurrent.futures.Executor, fn: Callable, items: Iterable[IngestItem],
                 lookahead: int) -> Iterator[tuple[IngestItem, concurrent.futures.Future]]:
    """Like ``pool.map`` in order, but with at most ``lookahead`` items in flight (bounded memory)."""
    pending: collections.deque = collections.deque()
    for item in items:
        pending.append((item, pool.submit(fn, item)))
        if len(pending) >= lookahead:
            yield pending.popleft()
    while pending:
        yield pending.popleft()
