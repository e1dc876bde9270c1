"""What the catalog stores about an asset, and the rows its searches return."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, NamedTuple

import numpy as np

from indexer.errors import BadInputError
from indexer.features.audio_fingerprint import Fingerprint
from indexer.media_types import MediaType


@dataclasses.dataclass(frozen=True)
class AssetRecord:
    asset_id: str
    media_type: MediaType
    source: str
    sha256: str
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    duration_s: float = 0.0
    width: int = 0
    height: int = 0
    fps_sampled: float = 0.0
    n_frames: int = 0
    has_audio: bool = False
    ingested_at: float = 0.0
    # Assigned by the catalog on put_asset:
    asset_num: int = -1
    first_frame_id: int = -1
    first_window_id: int = -1
    n_windows: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "media_type", MediaType(self.media_type))
        if not self.asset_id or len(self.asset_id.encode()) > 500:
            raise BadInputError(f"expected an asset_id of 1 to 500 bytes, got {self.asset_id!r}")

    def to_json(self) -> bytes:
        payload = dataclasses.asdict(self)
        payload["media_type"] = self.media_type.value
        return json.dumps(payload, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "AssetRecord":
        return cls(**json.loads(raw))


class FrameHit(NamedTuple):
    asset_id: str
    frame_index: int
    time_s: float
    score: float


class WindowHit(NamedTuple):
    asset_id: str
    window_index: int
    start_s: float
    end_s: float
    score: float


@dataclasses.dataclass(frozen=True)
class NewAsset:
    """One asset for ``Catalog.put_assets``.

    ``frame_embeddings`` (n, 512) float32 L2-normalised, ``frame_times_s`` (n,)
    float64 seconds on the asset's clock (0 for an image); ``audio`` the landmark
    hashes of its sound (an audio file or a video's soundtrack).
    """

    record: AssetRecord
    frame_embeddings: np.ndarray | None = None
    frame_times_s: np.ndarray | None = None
    audio: Fingerprint | None = None
