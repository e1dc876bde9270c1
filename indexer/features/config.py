"""The feature settings a catalog is built with, recorded in it and checked on every open."""

from __future__ import annotations

import dataclasses
from typing import Any

from indexer.decode.audio import AudioDecodeConfig
from indexer.features.audio_fingerprint import FingerprintConfig
from indexer.store.postings import FORMAT_VERSION as POSTINGS_FORMAT_VERSION
from indexer.errors import CatalogMismatchError
from indexer.features.extractor import ExtractorConfig
from indexer.decode.video import VideoSamplingConfig


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Everything that changes stored features; a catalog refuses to mix two of these."""

    visual: ExtractorConfig = ExtractorConfig()
    video: VideoSamplingConfig = VideoSamplingConfig()
    audio: FingerprintConfig = FingerprintConfig()

    @property
    def audio_decode(self) -> AudioDecodeConfig:
        return AudioDecodeConfig(sample_rate=self.audio.sample_rate)

    def record(self) -> dict[str, Any]:
        return {"visual": self.visual.record(), "video": self.video.record(),
                "audio": {**self.audio.record(), "postings_format": POSTINGS_FORMAT_VERSION}}

    @classmethod
    def from_record(cls, record: dict[str, Any], threads: int = 2) -> "FeatureConfig":
        """The settings a catalog recorded; ``threads`` is a run-time choice, not a feature."""
        try:
            video = VideoSamplingConfig(**record["video"])
        except (KeyError, TypeError, ValueError) as exc:
            raise CatalogMismatchError(f"catalog video sampling record is unreadable: {record.get('video')!r}") from exc
        features = cls(visual=ExtractorConfig.from_record(record.get("visual", {}), threads=threads), video=video)
        if features.record() != record:
            # Only the visual model and input are chosen from outside; any other difference is another build's.
            raise CatalogMismatchError(f"catalog was built with features this build does not make "
                                       f"({describe_differences(record, features.record())}); "
                                       f"re-ingest into a new catalog")
        return features


def describe_differences(stored: dict[str, Any], given: dict[str, Any], prefix: str = "") -> str:
    """The settings that differ between two feature records, as dotted keys: "visual.upscale: ..."."""
    parts = []
    for key in sorted(set(stored) | set(given)):
        old, new = stored.get(key), given.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            nested = describe_differences(old, new, f"{prefix}{key}.")
            parts.extend([nested] if nested else [])
        elif old != new:
            parts.append(f"{prefix}{key}: catalog has {old!r}, got {new!r}")
    return "; ".join(parts)
