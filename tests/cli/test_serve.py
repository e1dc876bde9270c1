"""`nearmatch serve` as a real process, and `--server` on ingest/search/match giving the local JSON.

Also TLS (a self-signed certificate made with the openssl command) and a bearer
token from a file, and a graceful stop on SIGTERM.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from indexer.store.catalog import Catalog
from search.cli.main import main
from search.service.client import NearmatchClient, ServiceError

REPO = Path(__file__).resolve().parents[2]


def start_serve(*args: str) -> tuple[subprocess.Popen, str]:
    """Run `python -m search.cli.main serve ... --port 0`; returns the process and its HOST:PORT."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "search.cli.main", "serve", "--port", "0", *args], cwd=REPO,
                               env=env, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stderr], daemon=True).start()  # type: ignore[union-attr]
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            line = lines.get(timeout=1.0)
        except queue.Empty:
            continue
        seen.append(line)
        found = re.search(r"serving \S+ on (\S+:\d+)", line)
        if found:
            return process, found.group(1)
    process.kill()
    raise AssertionError(f"server did not start: exit {process.poll()}, said {''.join(seen)[-2000:]}")


def stop_serve(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def run_json(capsys: pytest.CaptureFixture, *argv: str) -> list[dict]:
    assert main(list(argv)) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def edited(src: Path, dst: Path) -> Path:
    with Image.open(src) as image:
        w, h = image.size
        image.crop((w // 10, h // 10, w - w // 10, h - h // 10)).resize((w // 2, h // 2)).save(dst, quality=45)
    return dst


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, photo_dir: Path) -> Iterator[tuple[str, Path, Path]]:
    root = tmp_path_factory.mktemp("serve_cli")
    token_file = root / "token"
    token_file.write_text("cli-token-1234\n")
    process, address = start_serve("--catalog", str(root / "catalog"), "--auth-token-file", str(token_file))
    yield address, root / "catalog", token_file
    assert stop_serve(process) == 0


def test_ingest_search_match_through_the_server_print_the_local_json(
        served: tuple[str, Path, Path], photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    address, catalog, token_file = served
    remote = ["--server", address, "--auth-token-file", str(token_file)]
    report = run_json(capsys, "ingest", *remote, "--json", str(photo_dir))[0]
    assert report["ingested"] == len(list(photo_dir.glob("*.jpg"))) and report["failed"] == []
    assert run_json(capsys, "ingest", *remote, "--json", str(photo_dir))[0]["skipped"] == report["ingested"]

    query = edited(photo_dir / "chelsea.jpg", tmp_path / "chelsea-copy.jpg")
    remote_result = run_json(capsys, "search", *remote, "--json", "--top-k", "3", str(query))[0]
    # The same catalog searched in this process (LMDB readers may share it with the server).
    local_result = run_json(capsys, "search", "--catalog", str(catalog), "--json", "--top-k", "3", str(query))[0]
    strip = lambda result: [{k: v for k, v in hit.items() if k != "processing_time_ms"}  # noqa: E731
                            for hit in result["results"]]
    assert strip(remote_result) == strip(local_result)
    assert remote_result["results"][0]["asset_id"] == "chelsea.jpg"

    remote_match = run_json(capsys, "match", *remote, "--json", str(query), str(photo_dir / "chelsea.jpg"))[0]
    local_match = run_json(capsys, "match", "--json", str(query), str(photo_dir / "chelsea.jpg"))[0]
    assert remote_match.pop("processing_time_ms") >= 0 and local_match.pop("processing_time_ms") >= 0
    assert remote_match == local_match and remote_match["match"] is True


def test_wrong_or_missing_token_is_a_clean_error(served: tuple[str, Path, Path], photo_dir: Path,
                                                 tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    address, _, _ = served
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    assert main(["search", "--server", address, "--auth-token-file", str(wrong), str(photo_dir / "coffee.jpg")]) == 2
    assert "UNAUTHENTICATED" in capsys.readouterr().err
    assert main(["search", "--server", address, str(photo_dir / "coffee.jpg")]) == 2
    assert main(["search", "--server", address, "--catalog", "x", str(photo_dir / "coffee.jpg")]) == 2


def test_sigterm_stops_gracefully_and_the_catalog_reopens(tmp_path: Path, photo_dir: Path) -> None:
    process, address = start_serve("--catalog", str(tmp_path / "catalog"))
    with NearmatchClient(address) as client:
        assert client.ingest("rocket", photo_dir / "rocket.jpg")["status"] == "added"
    assert stop_serve(process) == 0
    with Catalog.open(tmp_path / "catalog", None, create=False) as catalog:
        assert catalog.require("rocket").media_type.value == "image"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command for a test certificate")
def test_tls(tmp_path: Path, photo_dir: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    process, address = start_serve("--catalog", str(tmp_path / "catalog"), "--tls-cert", str(cert),
                                   "--tls-key", str(key))
    try:
        with NearmatchClient(address, root_certificates=cert.read_bytes()) as client:
            assert client.ingest("coffee", photo_dir / "coffee.jpg")["status"] == "added"
            assert client.search(photo_dir / "coffee.jpg")["results"][0]["match_type"] == "exact"
        with NearmatchClient(address, timeout_s=5) as plaintext:
            with pytest.raises(ServiceError):
                plaintext.stats()
    finally:
        assert stop_serve(process) == 0
