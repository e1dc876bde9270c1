"""The feature settings a catalog is built with, recorded in it and checked on every open."""

from __future__ import annotations

import dataclasses
from typing import Any

from indexer.extractor import ExtractorConfig


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Everything that changes stored features; a catalog refuses to mix two of these."""

    visual: ExtractorConfig = ExtractorConfig()

    def record(self) -> dict[str, Any]:
        return {"visual": self.visual.record()}

    @classmethod
    def from_record(cls, record: dict[str, Any], threads: int = 2) -> "FeatureConfig":
        return cls(visual=ExtractorConfig.from_record(record.get("visual", {}), threads=threads))
