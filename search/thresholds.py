"""Default decision thresholds per media type, calibrated on the benchmarks.

``similarity_score`` in [0, 1] is the source of truth; ``match`` is
``score >= match`` and confidence is high at or above ``high``, medium at or
above ``match``, low below it. Each value comes from the calibration split of
the benchmark named beside it (precision target stated there) and is reported
on the held-out split in ``benchmarks/results/``.
"""

from __future__ import annotations

import dataclasses
import enum

from indexer.media_types import MediaType


class Confidence(str, enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclasses.dataclass(frozen=True)
class Thresholds:
    match: float
    high: float

    def __post_init__(self) -> None:
        if not 0.0 < self.match <= self.high <= 1.0:
            raise ValueError(f"expected 0 < match <= high <= 1, got match={self.match} high={self.high}")

    def confidence(self, score: float) -> Confidence:
        if score >= self.high:
            return Confidence.HIGH
        if score >= self.match:
            return Confidence.MEDIUM
        return Confidence.LOW


# Image: benchmarks/image_bench.py with the default extractor (sscd_distilled, 288 short side, border
# trim, JPEG draft 1x): match = lowest score with precision >= 0.99 on the calibration split, high =
# precision >= 0.999; on the test split they give precision 0.998 / recall 0.915 and 1.000 / 0.878
# (results/image.md).
IMAGE = Thresholds(match=0.581, high=0.636)
# Image with the full SSCD model (--model sscd): the same benchmark run with --model sscd; on the test split
# precision 0.976 / recall 0.936 at match and 1.000 / 0.903 at high (results/image_sscd.md).
IMAGE_SSCD = Thresholds(match=0.455, high=0.541)
# Video: benchmarks/video_bench.py at 1 fps: match = lowest score with precision >= 0.99 on the calibration
# split; no negative or wrong-asset pair got an aligned segment in either split, so precision >= 0.999 gives
# the same high. Test split: top-1 1.000, segment F1 0.952, false alarms 0.000 (results/video.md).
VIDEO = Thresholds(match=0.423, high=0.423)
# Audio: benchmarks/audio_bench.py, calibration split (28 tracks, 2.3 h): match = lowest score with top-1
# precision >= 0.99 and <= 1 % false alarms on negatives; high = precision 1.0. Report split: no false
# alarm on 80 negatives, top-1 1.0 at 5 dB SNR and under a voice-over, 0.667 at 0 dB (results/audio.md).
AUDIO = Thresholds(match=0.1865, high=0.19)

DEFAULTS: dict[MediaType, Thresholds] = {MediaType.IMAGE: IMAGE, MediaType.VIDEO: VIDEO, MediaType.AUDIO: AUDIO}


def defaults_for(model: str) -> dict[MediaType, Thresholds]:
    """The calibrated thresholds for a catalog whose visual model is ``model`` (a ModelName value).

    Video was calibrated with the default sscd_distilled model only; the full
    model shares its video threshold until the video benchmark is run with it.
    """
    return {**DEFAULTS, MediaType.IMAGE: IMAGE_SSCD} if model == "sscd" else dict(DEFAULTS)
