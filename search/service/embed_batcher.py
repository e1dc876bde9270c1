"""Micro-batching in front of a FrameEmbedder, for a server with many concurrent queries.

Each request thread preprocesses its own images (decode and resize run in
parallel), then hands the model-ready arrays to one worker thread. The worker
takes whatever is queued, waits at most ``max_wait_ms`` for more up to
``max_batch`` images, runs one model call per input shape, and hands every
caller its rows. One model call at a time also stops concurrent ONNX sessions
from fighting over the same cores.

``BatchingEmbedder`` has the interface of ``FrameEmbedder`` that the search and
match functions use (``config``, ``record``, ``preprocess``, ``embed``,
``embed_preprocessed``, ``embed_prepared``), so the server hands it to the same functions the CLI calls.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from concurrent.futures import Future
from typing import Any, Sequence

import numpy as np
from PIL import Image

from indexer.errors import LimitExceededError
from indexer.features.extractor import EMBEDDING_DIM, FrameEmbedder

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class BatchConfig:
    max_batch: int = 16  # images per model call
    max_wait_ms: float = 4.0  # how long the first queued image waits for company
    max_queued: int = 1024  # images waiting; past this a caller gets LimitExceededError

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.max_wait_ms < 0 or self.max_queued < 1:
            raise ValueError(f"expected max_batch >= 1, max_wait_ms >= 0, max_queued >= 1, got {self}")


@dataclasses.dataclass
class _Job:
    arrays: list[np.ndarray]  # preprocessed (h, w, 3) uint8
    future: Future


class BatchingEmbedder:
    """Thread-safe ``FrameEmbedder`` front that merges concurrent ``embed`` calls. Call ``close``."""

    def __init__(self, embedder: FrameEmbedder, config: BatchConfig = BatchConfig()) -> None:
        self.embedder = embedder
        self.config = embedder.config  # the extractor config, as FrameEmbedder exposes it
        self.batch_config = config
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._queued_images = 0
        self._count_lock = threading.Lock()
        self._local = threading.local()
        self.model_calls = 0  # statistics, read by benchmarks and tests
        self.images_embedded = 0
        self._worker = threading.Thread(target=self._run, name="embed-batcher", daemon=True)
        self._worker.start()

    # FrameEmbedder interface ---------------------------------------------------------------
    def record(self) -> dict[str, Any]:
        return self.embedder.record()

    def preprocess(self, image: np.ndarray | Image.Image) -> np.ndarray:
        return self.embedder.preprocess(image)

    def embed(self, images: Sequence[np.ndarray | Image.Image]) -> np.ndarray:
        """Any number of (H, W, 3) uint8 images or RGB pictures -> (n, 512) float32 L2-normalised, in order."""
        return self.embed_prepared([self.embedder.preprocess(image) for image in images])

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 -> (n, 512) float32, through the shared queue."""
        return self.embed_prepared(list(batch))

    def embed_prepared(self, arrays: list[np.ndarray], timeout_s: float | None = None) -> np.ndarray:
        """Preprocessed (h, w, 3) uint8 arrays (shapes may differ) -> (n, 512) float32."""
        if not arrays:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        with self._count_lock:
            if self._queued_images + len(arrays) > self.batch_config.max_queued:
                raise LimitExceededError(
                    f"expected at most {self.batch_config.max_queued} images waiting for the model, "
                    f"got {self._queued_images + len(arrays)}; retry later"
                )
            self._queued_images += len(arrays)
        job = _Job(arrays, Future())
        self._queue.put(job)
        if timeout_s is None:
            timeout_s = getattr(self._local, "timeout_s", None)
        try:
            return job.future.result(timeout=timeout_s)
        except TimeoutError:
            job.future.cancel()  # still queued: the worker skips it
            raise

    def set_thread_timeout(self, timeout_s: float | None) -> None:
        """Longest wait for the model in this thread's later calls (a request's deadline); None: no limit."""
        self._local.timeout_s = timeout_s

    # worker ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Finish what is queued, then stop the worker."""
        if self._worker.is_alive():
            self._queue.put(None)
            self._worker.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            count = len(first.arrays)
            deadline = time.perf_counter() + self.batch_config.max_wait_ms / 1000.0
            while count < self.batch_config.max_batch:
                wait = deadline - time.perf_counter()
                try:
                    job = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                count += len(job.arrays)
            self._embed_jobs(jobs)
        while True:  # drain anything queued behind the stop marker
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._embed_jobs([job])

    def _embed_jobs(self, jobs: list[_Job]) -> None:
        with self._count_lock:
            self._queued_images -= sum(len(job.arrays) for job in jobs)
        jobs = [job for job in jobs if job.future.set_running_or_notify_cancel()]  # drop timed-out callers
        arrays = [a for job in jobs for a in job.arrays]
        if not arrays:
            return
        try:
            out = self.embedder.embed_prepared(arrays)  # one model call per input shape
            self.model_calls += len({array.shape for array in arrays})
            self.images_embedded += len(arrays)
        except BaseException as exc:  # noqa: BLE001 - every waiting caller must hear about it
            LOG.exception("batched embedding failed")
            for job in jobs:
                job.future.set_exception(exc)
            return
        start = 0
        for job in jobs:
            job.future.set_result(out[start : start + len(job.arrays)])
            start += len(job.arrays)
