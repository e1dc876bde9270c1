"""`make demo`: build a small catalog from real packaged photos, search it, match a pair.

Runs the real ``nearmatch`` CLI so every line printed is what a user would see.
The catalog photos come from scikit-image's bundled data; the queries are
re-uploads made from them (re-encoded, cropped, grey, watermarked, letterboxed)
plus one photo that is not in the catalog.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

WORK_DIR = Path("demo_catalog")
CATALOG_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "retina", "hubble_deep_field", "immunohistochemistry")


def _photo(name: str) -> Image.Image:
    from skimage import data

    return Image.fromarray(getattr(data, name)()).convert("RGB")


def build_media(root: Path) -> tuple[Path, list[Path]]:
    catalog_media, queries = root / "media", root / "queries"
    catalog_media.mkdir(parents=True)
    queries.mkdir()
    for name in CATALOG_PHOTOS:
        _photo(name).save(catalog_media / f"{name}.jpg", quality=92)
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
    return catalog_media, sorted(queries.iterdir())


def run(*args: str) -> None:
    command = ["nearmatch", *args]
    print(f"\n$ {shlex.join(command)}", flush=True)
    subprocess.run([str(Path(sys.executable).with_name("nearmatch")), *args], check=True)


def main() -> None:
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    media, queries = build_media(WORK_DIR)
    catalog = str(WORK_DIR / "catalog")
    run("ingest", "--catalog", catalog, str(media))
    run("stats", "--catalog", catalog)
    run("search", "--catalog", catalog, "--top-k", "3", *map(str, queries))
    cropped_cat = WORK_DIR / "queries" / "chelsea_cropped.webp"
    run("search", "--catalog", catalog, "--top-k", "1", "--json", str(cropped_cat))
    run("match", "--json", str(media / "chelsea.jpg"), str(cropped_cat))


if __name__ == "__main__":
    main()
