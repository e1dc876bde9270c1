"""`make demo`: build a small catalog from real packaged media, search it, match a pair.

Runs the real ``nearmatch`` CLI so every line printed is what a user would see.

Catalog: photographs bundled with scikit-image; a 32 s video made of pans and
zooms across four of those photos with a real music track as its soundtrack;
that music track itself (Debian's planetblupi-music-ogg, fetched once with
``apt-get download`` into benchmarks/cache/). Queries: re-uploads made from
them (re-encoded, cropped, grey, watermarked, letterboxed; a 9:16 H.265 excerpt
of the video without sound; a 32 kb/s MP3 of 12 s of its soundtrack) and a
photo that is not in the catalog.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from benchmarks.audio_transforms import encode
from benchmarks.media_cache import debian_package_root
from benchmarks.video_transforms import Encoding, Shot, decoded_frames, encode_frames, letterbox_portrait, \
    read_audio, render_shots

WORK_DIR = Path("demo_catalog")
CATALOG_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "retina", "hubble_deep_field", "immunohistochemistry")
VIDEO_PHOTOS = ("coffee", "rocket", "chelsea", "astronaut")
SHOT_S, VIDEO_FPS, AUDIO_HZ = 8.0, 15.0, 22050
MUSIC_OFFSET_S = 60.0  # the video's soundtrack is the track from this second on


def _photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def build_images(media: Path, queries: Path) -> None:
    for name in CATALOG_PHOTOS:
        _photo(name).save(media / f"{name}.jpg", quality=92)
    cat = _photo("chelsea")
    w, h = cat.size
    cat.crop((w // 6, h // 6, w - w // 6, h - h // 6)).save(queries / "chelsea_cropped.webp", quality=30)
    ImageOps.grayscale(_photo("astronaut").resize((128, 128))).save(queries / "astronaut_small_grey.jpg", quality=40)
    marked = _photo("rocket")
    ImageDraw.Draw(marked).text((20, 20), "RESELLER #42", fill=(255, 255, 0))
    boxed = Image.new("RGB", (marked.width, marked.height * 2), (0, 0, 0))
    boxed.paste(marked, (0, marked.height // 2))
    boxed.save(queries / "rocket_watermarked_letterboxed.png")
    _photo("camera").save(queries / "camera_not_in_catalog.png")


def build_video_and_audio(media: Path, queries: Path) -> None:
    track = debian_package_root("planetblupi-music-ogg") / "usr/share/planetblupi/music/music004.ogg"
    shutil.copy(track, media / "music004.ogg")
    duration_s = SHOT_S * len(VIDEO_PHOTOS)
    music = read_audio(track, MUSIC_OFFSET_S + duration_s, AUDIO_HZ)[int(MUSIC_OFFSET_S * AUDIO_HZ):]
    shots = [Shot(np.asarray(_photo(name)), SHOT_S, motion) for name, motion in zip(VIDEO_PHOTOS, ("pan", "zoom") * 2)]
    tour = encode_frames(render_shots(shots, (480, 270), VIDEO_FPS), media / "tour.mp4",
                         Encoding(fps=VIDEO_FPS, audio_hz=AUDIO_HZ), audio=music)
    # Seconds 6-20 of the tour, shown 9:16 with bars, H.265, sound removed.
    excerpt = (letterbox_portrait(frame) for t, frame in decoded_frames(tour) if 6.0 <= t < 20.0)
    encode_frames(excerpt, queries / "tour_excerpt_portrait_h265.mp4", Encoding(codec="libx265", fps=VIDEO_FPS))
    # Seconds 10-22 of the soundtrack as a 32 kb/s MP3.
    clip = music[int(10 * AUDIO_HZ) : int(22 * AUDIO_HZ)]
    (queries / "tour_sound_10s_to_22s.mp3").write_bytes(encode(clip, AUDIO_HZ, "libmp3lame", 32000))


def run(*args: str) -> None:
    print(f"\n$ {shlex.join(['nearmatch', *args])}", flush=True)
    subprocess.run([str(Path(sys.executable).with_name("nearmatch")), *args], check=True)


def main() -> None:
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    media, queries = WORK_DIR / "media", WORK_DIR / "queries"
    media.mkdir(parents=True)
    queries.mkdir()
    build_images(media, queries)
    build_video_and_audio(media, queries)
    catalog = str(WORK_DIR / "catalog")
    run("ingest", "--catalog", catalog, str(media))
    run("stats", "--catalog", catalog)
    run("search", "--catalog", catalog, "--top-k", "3", *sorted(str(p) for p in queries.glob("*")))
    cropped_cat = queries / "chelsea_cropped.webp"
    run("search", "--catalog", catalog, "--top-k", "1", "--json", str(cropped_cat))
    run("match", "--json", str(media / "chelsea.jpg"), str(cropped_cat))
    run("match", "--json", str(queries / "tour_excerpt_portrait_h265.mp4"), str(media / "tour.mp4"))


if __name__ == "__main__":
    main()
