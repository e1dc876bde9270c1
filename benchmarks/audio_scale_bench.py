"""How the audio postings grow: size, insert speed and lookup time as a catalog reaches tens of hours.

Run: ``python -m benchmarks.audio_scale_bench [--rounds 20]`` (writes
benchmarks/results/audio_scale.json and audio_scale.md).

The benchmark's real music tracks are fingerprinted once; each round inserts
all of them again as new assets (one write transaction per asset, as ingest
does) with every hash XOR-ed by a per-asset random value, so each round adds
the same amount of audio with the time structure of real music but hashes
no earlier asset has, as new content would. After some rounds it records
live and file bytes per hour, the file's bytes per hour after a compacting
copy (what ``nearmatch compact`` writes), insert speed (x realtime) and the
lookup time of a real 10 s query (every hash under every search hypothesis).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import lmdb
import numpy as np

from benchmarks.audio_bench import HELD_OUT, RESULTS
from benchmarks.machine import machine_info
from benchmarks.media_cache import music_tracks
from indexer.decode.audio import AudioSignal, decode_audio
from indexer.features.audio_fingerprint import Fingerprint, fingerprint
from indexer.store.postings import AudioPostings
from indexer.store.compact import copy_compact
from search.align.audio import query_hashes, query_landmarks

LOG = logging.getLogger(__name__)


def run(rounds: int, seed: int = 0) -> list[dict[str, float]]:
    signals = [decode_audio(p) for p in music_tracks() if p.name not in HELD_OUT]
    fingerprints = [fingerprint(s) for s in signals]
    rate = signals[5].sample_rate
    excerpt = AudioSignal(samples=signals[5].samples[30 * rate : 40 * rate], sample_rate=rate)
    query = query_hashes(query_landmarks(excerpt)).hashes
    rng = np.random.default_rng(seed)
    rows: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="audio_scale_") as tmp:
        env = lmdb.open(tmp, max_dbs=4, map_size=1 << 37)
        postings = AudioPostings(env)
        hours, asset = 0.0, 0
        for round_index in range(rounds):
            started = time.perf_counter()
            for fp in fingerprints:
                hashes = fp.hashes ^ np.uint32(rng.integers(1, 2**31))
                with env.begin(write=True) as txn:
                    postings.add(txn, asset, Fingerprint(hashes, fp.times, fp.frame_s, fp.duration_s))
                asset += 1
            round_hours = sum(fp.duration_s for fp in fingerprints) / 3600
            insert_x = round_hours * 3600 / (time.perf_counter() - started)
            hours += round_hours
            if round_index % 4 != 3 and round_index not in (0, rounds - 1):
                continue
            with env.begin() as txn:
                live = postings.stats(txn)["bytes"]
                started = time.perf_counter()
                postings.lookup(txn, query)
                lookup_ms = (time.perf_counter() - started) * 1000
            with tempfile.TemporaryDirectory(prefix="audio_scale_compact_") as compacted:
                copy_compact(env, Path(compacted))
                compacted_bytes = (Path(compacted) / "data.mdb").stat().st_size
            rows.append({"catalog_hours": round(hours, 1), "insert_x_realtime": round(insert_x),
                         "live_bytes_per_hour": int(live / hours),
                         "file_bytes_per_hour": int((env.info()["last_pgno"] + 1) * env.stat()["psize"] / hours),
                         "compacted_file_bytes_per_hour": int(compacted_bytes / hours),
                         "lookup_ms_10s_query": round(lookup_ms, 1), "query_hashes": int(query.shape[0])})
            LOG.info("%s", rows[-1])
        env.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    rows = run(args.rounds)
    command = "python -m benchmarks.audio_scale_bench" + (f" --rounds {args.rounds}" if args.rounds != 20 else "")
    result = {"command": command, "machine": machine_info(), "wall_s": round(time.perf_counter() - started, 1), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "audio_scale.json").write_text(json.dumps(result, indent=1) + "\n")
    machine = result["machine"]
    lines = ["# Audio postings at scale", "",
             f"Command: `{command}` ({result['wall_s']:.0f} s wall). Machine: {machine['cpu']}, {machine['cores']} cores, "
             f"load average {machine['load_average']}.", "",
             "Each round re-inserts the benchmark's 28 tracks (2.3 h) as new assets with their hashes XOR-ed by a "
             "per-asset value: real time structure, new hashes. One write transaction per asset.", "",
             "| catalog hours | insert x realtime | live bytes per hour | file bytes per hour | compacted file bytes per hour "
             "| lookup of a 10 s query, ms |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['catalog_hours']} | {r['insert_x_realtime']} | {r['live_bytes_per_hour']:,} | "
              f"{r['file_bytes_per_hour']:,} | {r['compacted_file_bytes_per_hour']:,} | {r['lookup_ms_10s_query']} |"
              for r in rows]
    (args.out / "audio_scale.md").write_text("\n".join(lines) + "\n")
    LOG.info("wrote %s", args.out / "audio_scale.md")


if __name__ == "__main__":
    main()
