"""The image benchmark's data: catalog, transformed queries and the calibration/test split.

Sources are real media shipped by Debian and PyPI packages (shared/BENCHMARK_DATA.md):

- a pool of distinct photographs and wallpapers (GNOME, MATE, Lomiri, UKUI,
  Plasma, Palapeli, scikit-image). Variants of one picture (light/dark
  versions, the same photo at several resolutions, colour-tinted copies) are
  kept once, so no catalog item is a copy of another. A seeded shuffle makes
  about 60 % of the pool *originals* (in the catalog, with transformed copies
  as queries) and the rest *held out* (never in the catalog; their
  transformed copies are the queries with no copy in the catalog);
- distractors, in the catalog with no query: Tux Paint's photographic stamps
  (product-style cut-outs on white), frames of real video clips and
  scikit-image textures.

Every catalog image is stored as an RGB JPEG (quality 90) of at most 1280
pixels on its long side, the way a platform keeps uploads; transparent pixels
are composited on white. Queries are made from that stored picture with
``benchmarks.image_transforms``. Everything lands in a versioned folder under
the git-ignored ``benchmarks/cache/`` with a ``manifest.json`` and is reused
when present.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import zlib
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from PIL import Image

from benchmarks import image_transforms, media_cache

LOG = logging.getLogger(__name__)

DATASET_VERSION = 1
CATALOG_MAX_SIDE = 1280

# Same picture as another member of the pool (kept: the first of each group), or not a picture.
_EXCLUDED = {
    "Elephants_3840x2160.jpg", "Elephants_5640x3172.jpg",  # Elephants.jpg at other resolutions
    "Ubuntu-Mate-Dark-no-logo.png", "Ubuntu-Mate-Radioactive-no-logo.png", "Ubuntu-Mate-Warm-no-logo.png",  # tints of -Cold
    "MATE-Stripes-Dark.png", "MATE-Stripes-Light.png", "Arc-Colors-Transparent-Wallpaper.png",  # near-empty alpha art
    "Silk.png", "Spring.png", "Waves.png",  # mostly transparent: near-blank once composited
    "vnc-l.webp", "vnc-d.webp", "symbolic-l.webp", "symbolic-d.webp",  # flat colour
    "warty-final-ubuntu.png",  # the same gradient as lomiri-default-background.png
}
_PHOTO_PACKAGES = (
    ("mate-backgrounds", "usr/share/backgrounds"),
    ("gnome-backgrounds", "usr/share/backgrounds"),
    ("ukui-wallpapers", "usr/share/backgrounds"),
    ("lomiri-wallpapers", "usr/share/backgrounds"),
    ("lomiri-wallpapers-16.04", "usr/share/backgrounds"),
    ("lomiri-wallpapers-20.04", "usr/share/backgrounds"),
    ("palapeli-data", "usr/share/palapeli/collection"),
)
_SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry",
                   "retina", "rocket", "coins", "moon", "clock")
_SKIMAGE_DISTRACTORS = ("brick", "grass", "gravel", "page", "text", "colorwheel")
_VIDEO_CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "balle-jbart.mp4", "retroMars2018.avi",
                "Force_constante.avi", "Principe_inertie.avi", "balle1-vp9.avi")
FRAMES_PER_CLIP = 5


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    seed: int = 20261125
    original_fraction: float = 0.6  # of the photo pool; the rest is held out for no-copy queries
    combos_per_size: int = 2  # per original, for combinations of 2 and of 3 transformations
    held_out_queries: int = 6  # transformed copies of each held-out photo
    cache_dir: Path = media_cache.CACHE_DIR


@dataclasses.dataclass(frozen=True)
class Source:
    """A real picture: ``key`` is unique and stable, ``load`` gives it as an RGB Pillow image."""

    key: str
    load: Callable[[], Image.Image] = dataclasses.field(compare=False, repr=False)


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def _file_source(key: str, path: Path) -> Source:
    def load() -> Image.Image:
        with Image.open(path) as image:
            return _rgb(image)

    return Source(key, load)


def _skimage_source(name: str) -> Source:
    def load() -> Image.Image:
        from skimage import data

        return _rgb(Image.fromarray(getattr(data, name)()))

    return Source(f"skimage/{name}", load)


def _plasma_sources(cache_dir: Path) -> list[Source]:
    """One image per Plasma wallpaper: its largest landscape light version."""
    root = media_cache.debian_package_root("plasma-workspace-wallpapers", cache_dir) / "usr/share/wallpapers"
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        best: tuple[int, Path] | None = None
        for path in (folder / "contents/images").glob("*"):
            match = re.fullmatch(r"(\d+)x(\d+)", path.stem)
            if match and int(match[1]) >= int(match[2]) and (best is None or int(match[1]) > best[0]):
                best = (int(match[1]), path)
        if best is not None:
            found.append(_file_source(f"plasma/{folder.name}", best[1]))
    return found


def photo_pool(cache_dir: Path = media_cache.CACHE_DIR) -> list[Source]:
    """Distinct real photographs and wallpapers, sorted by key."""
    pool = []
    for package, sub in _PHOTO_PACKAGES:
        root = media_cache.debian_package_root(package, cache_dir) / sub
        for path in media_cache.files_with_suffix(root, media_cache.PHOTO_SUFFIXES):
            if path.name in _EXCLUDED or path.stem.endswith("-d"):  # GNOME's dark twin of each "-l"
                continue
            pool.append(_file_source(f"{package}/{path.relative_to(root)}", path))
    pool += _plasma_sources(cache_dir)
    pool += [_skimage_source(name) for name in _SKIMAGE_PHOTOS]
    return sorted(pool, key=lambda s: s.key)


def _video_frame_sources(cache_dir: Path) -> list[Source]:
    import av  # PyAV: only needed to build the dataset

    sources = []
    for path in media_cache.video_clips(cache_dir):
        if path.name not in _VIDEO_CLIPS:
            continue

        def load_all(path: Path = path) -> list[Image.Image]:
            with av.open(str(path)) as container:
                frames = [frame.to_image() for frame in container.decode(video=0)]
            picks = np.linspace(0, len(frames) - 1, FRAMES_PER_CLIP + 2)[1:-1].round().astype(int)
            return [frames[i].convert("RGB") for i in picks]

        cached: dict[str, list[Image.Image]] = {}

        def load(i: int, load_all: Callable[[], list[Image.Image]] = load_all,
                 cached: dict[str, list[Image.Image]] = cached) -> Image.Image:
            if "frames" not in cached:
                cached["frames"] = load_all()
            return cached["frames"][i]

        for i in range(FRAMES_PER_CLIP):
            sources.append(Source(f"video/{path.name}/frame{i}", lambda i=i, load=load: load(i)))
    return sources


def distractor_pool(cache_dir: Path = media_cache.CACHE_DIR) -> list[Source]:
    """Catalog images with no query: photographic Tux Paint stamps, video frames, textures."""
    root = media_cache.debian_package_root("tuxpaint-stamps-default", cache_dir) / "usr/share/tuxpaint/stamps"
    pool = []
    for path in media_cache.files_with_suffix(root, (".png",)):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("symbols/") or "/cartoon/" in rel or "mirror" in path.name:
            continue  # drawings, not photographs
        with Image.open(path) as image:
            if min(image.size) < 100:
                continue
        pool.append(_file_source(f"tuxpaint/{rel}", path))
    pool += _video_frame_sources(cache_dir)
    pool += [_skimage_source(name) for name in _SKIMAGE_DISTRACTORS]
    return sorted(pool, key=lambda s: s.key)


def _rng(seed: int, key: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode()), index])


def _safe_name(key: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)


def _normalised(source: Source) -> Image.Image:
    image = source.load()
    if max(image.size) > CATALOG_MAX_SIDE:
        image = image.copy()
        image.thumbnail((CATALOG_MAX_SIDE, CATALOG_MAX_SIDE), Image.LANCZOS)
    return image


def query_plan(key: str, config: DatasetConfig, held_out: bool) -> Iterator[tuple[str, ...]]:
    """The transformation chains for one photo: every single one and a few combinations for an
    original; a seeded handful of singles and combinations for a held-out photo."""
    rng = _rng(config.seed, key, 1_000_000)  # the plan's own stream, apart from the per-query ones
    if held_out:
        for _ in range(config.held_out_queries):
            size = int(rng.choice([1, 1, 2, 3]))
            yield (str(rng.choice(list(image_transforms.SINGLE))),) if size == 1 else \
                image_transforms.random_combination(rng, size)
        return
    for name in image_transforms.SINGLE:
        yield (name,)
    for size in (2, 3):
        for _ in range(config.combos_per_size):
            yield image_transforms.random_combination(rng, size)


def dataset_dir(config: DatasetConfig) -> Path:
    return config.cache_dir / "image_bench" / f"v{DATASET_VERSION}-seed{config.seed}"


def build_dataset(config: DatasetConfig = DatasetConfig()) -> dict[str, Any]:
    """Build (or reuse) the benchmark's files and return its manifest.

    Manifest: {"catalog": [{"asset_id", "path", "role": "original"|"distractor"}],
    "queries": [{"query_id", "path", "original": asset_id or None, "steps", "split"}]}
    with paths relative to the dataset folder; split is "calibration" or "test".
    """
    root = dataset_dir(config)
    manifest_path = root / "manifest.json"
    if manifest_path.exists():
        return json.loads(manifest_path.read_text())
    (root / "catalog").mkdir(parents=True, exist_ok=True)
    (root / "queries").mkdir(parents=True, exist_ok=True)
    photos = photo_pool(config.cache_dir)
    order = np.random.default_rng(config.seed).permutation(len(photos))
    n_originals = round(len(photos) * config.original_fraction)
    originals = sorted((photos[i] for i in order[:n_originals]), key=lambda s: s.key)
    held_out = sorted((photos[i] for i in order[n_originals:]), key=lambda s: s.key)
    split_of = {}
    for group in (originals, held_out):
        flips = np.random.default_rng([config.seed, len(group)]).permutation(len(group))
        for rank, i in enumerate(flips):
            split_of[group[i].key] = "calibration" if rank < len(group) // 2 else "test"
    catalog, queries = [], []
    for role, sources in (("original", originals), ("distractor", distractor_pool(config.cache_dir))):
        for source in sources:
            image = _normalised(source)
            rel = f"catalog/{_safe_name(source.key)}.jpg"
            image.save(root / rel, format="JPEG", quality=90)
            catalog.append({"asset_id": source.key, "path": rel, "role": role})
            if role == "original":
                queries += _write_queries(root, source.key, image, config, held_out=False, split=split_of[source.key])
    for source in held_out:
        queries += _write_queries(root, source.key, _normalised(source), config, held_out=True,
                                  split=split_of[source.key])
    manifest = {"version": DATASET_VERSION, "config": {"seed": config.seed, "catalog_max_side": CATALOG_MAX_SIDE},
                "catalog": catalog, "queries": queries}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    LOG.info("built image benchmark: %d catalog images, %d queries in %s", len(catalog), len(queries), root)
    return manifest


def _write_queries(root: Path, key: str, image: Image.Image, config: DatasetConfig, held_out: bool,
                   split: str) -> list[dict[str, Any]]:
    rows = []
    for i, steps in enumerate(query_plan(key, config, held_out)):
        query = image_transforms.apply_chain(image, steps, _rng(config.seed, key, i))
        rel = f"queries/{_safe_name(key)}__{i:02d}_{'+'.join(steps)}{query.suffix}"
        (root / rel).write_bytes(query.data)
        rows.append({"query_id": rel.split("/", 1)[1], "path": rel, "original": None if held_out else key,
                     "steps": list(steps), "split": split})
    return rows
