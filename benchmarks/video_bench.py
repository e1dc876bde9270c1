"""Video benchmark: search quality, segment quality, PDQ baseline, ingest speed and query latency.

Run: ``python -m benchmarks.video_bench`` (writes benchmarks/results/video.json and video.md).

The threshold is calibrated on the calibration split (precision >= 0.99 over
pooled (query, hit) decisions) and every quality figure is reported on the
held-out test split. Segment precision/recall credit each predicted (true)
second by the product of its query-axis and reference-axis overlap fractions
with the best-matching true (predicted) segment.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from benchmarks import video_dataset, video_transforms as vt
from benchmarks.machine import machine_info
from benchmarks.media_cache import CACHE_DIR
from benchmarks.metrics import threshold_at_precision
from indexer.store.catalog import AssetRecord, Catalog
from indexer.features.extractor import ExtractorConfig, FrameEmbedder
from indexer.features.config import FeatureConfig
from indexer.ingest import IngestItem, Ingestor
from indexer.media_types import MediaType
from indexer.decode.video import VideoSamplingConfig, sample_frames
from search.thresholds import Thresholds
from search.retrieve.video import VideoSearchConfig, search_video, video_features

LOG = logging.getLogger("benchmarks.video_bench")
RESULTS = Path(__file__).resolve().parent / "results"
PRECISION_TARGET = 0.99
PDQ_MAX_HAMMING = 31
PDQ_MIN_QUALITY = 50


# ----------------------------------------------------------------- speed
def raw_decode_seconds(path: Path) -> tuple[float, int]:
    """Wall seconds to decode every frame of ``path`` with threaded PyAV, nothing else; and the frame count."""
    started = time.perf_counter()
    count = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            count += 1
    return time.perf_counter() - started, count


def ingest(catalog: Catalog, embedder: FrameEmbedder, videos: dict[str, Path], sampling: VideoSamplingConfig) -> float:
    """Sample, embed and store every video (decoding the next while embedding this one); wall seconds."""
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = [(name, pool.submit(sample_frames, path, sampling)) for name, path in sorted(videos.items())]
        for name, future in pending:
            video = future.result()
            features = video_features(embedder, video)
            record = AssetRecord(asset_id=name, media_type=MediaType.VIDEO, source=str(videos[name]),
                                 sha256=f"{name:0>64}", duration_s=video.duration_s, width=video.width,
                                 height=video.height, fps_sampled=sampling.fps, has_audio=video.has_audio)
            catalog.put_asset(record, features.embeddings, features.times_s)
    return time.perf_counter() - started


def embed_throughput(embedder: FrameEmbedder, n: int = 128) -> float:
    """Frames per second of the embedder alone (preprocessing included) on 640x360 frames."""
    frames = [np.random.default_rng(i).integers(0, 256, (360, 640, 3), dtype=np.uint8) for i in range(n)]
    embedder.embed(frames[:8])  # warm-up
    started = time.perf_counter()
    embedder.embed(frames)
    return n / (time.perf_counter() - started)


def speed_figures(videos: dict[str, Path], embedder: FrameEmbedder, sampling: VideoSamplingConfig,
                  catalog: Catalog | None = None) -> dict[str, float]:
    """Raw threaded decode, frame sampling and full ingest of ``videos``.

    Ingest goes through the product Ingestor into a scratch catalog, or, given
    ``catalog``, through this module's video-only pipeline (no soundtrack fingerprints).
    """
    seconds = sum(video_dataset.video_duration_s(p) for p in videos.values())
    raw = [raw_decode_seconds(p) for p in videos.values()]
    raw_s = sum(t for t, _ in raw)
    started = time.perf_counter()
    for path in videos.values():
        sample_frames(path, sampling)
    sample_s = time.perf_counter() - started
    if catalog is None:  # the product path: indexer.ingest.Ingestor (decode and embed in its workers)
        features = FeatureConfig(visual=embedder.config, video=sampling)
        with tempfile.TemporaryDirectory() as tmp:
            with Catalog.open(Path(tmp) / "c", features.record()) as scratch:
                started = time.perf_counter()
                report = Ingestor(scratch, embedder, features).run(
                    IngestItem(asset_id=name, path=path) for name, path in videos.items())
                ingest_s = time.perf_counter() - started
                if report.failed:
                    raise RuntimeError(f"ingest failed: {report.failed}")
    else:
        ingest_s = ingest(catalog, embedder, videos, sampling)
    return {
        "video_seconds": seconds,
        "raw_decode_frames_per_s": sum(n for _, n in raw) / raw_s,
        "raw_decode_video_s_per_s": seconds / raw_s,
        "sampling_video_s_per_s": seconds / sample_s,
        "sampling_over_raw_decode": raw_s / sample_s,
        "ingest_video_s_per_s": seconds / ingest_s,
        "ingest_over_raw_decode": raw_s / ingest_s,
    }


# ----------------------------------------------------------------- segment quality
def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _pair_fraction(pred: dict[str, float], true: vt.TruthSegment, of_pred: bool) -> float:
    q = _overlap(pred["source_start"], pred["source_end"], true.query_start_s, true.query_end_s)
    r = _overlap(pred["target_start"], pred["target_end"], true.source_start_s, true.source_end_s)
    if of_pred:
        q_len, r_len = pred["source_end"] - pred["source_start"], pred["target_end"] - pred["target_start"]
    else:
        q_len, r_len = true.query_end_s - true.query_start_s, true.source_end_s - true.source_start_s
    return (q / q_len if q_len > 0 else 0.0) * (r / r_len if r_len > 0 else 0.0)


def segment_scores(predicted: list[dict[str, float]], truth: tuple[vt.TruthSegment, ...]) -> dict[str, Any]:
    """Length-weighted precision and recall sums of one query, and the boundary errors of its true segments."""
    p_num = sum((p["source_end"] - p["source_start"]) * max(_pair_fraction(p, t, True) for t in truth)
                for p in predicted)
    p_den = sum(p["source_end"] - p["source_start"] for p in predicted)
    r_num, errors = 0.0, []
    for t in truth:
        fractions = [_pair_fraction(p, t, False) for p in predicted]
        r_num += (t.query_end_s - t.query_start_s) * (max(fractions) if fractions else 0.0)
        if fractions and max(fractions) > 0:
            p = predicted[int(np.argmax(fractions))]
            errors += [abs(p["source_start"] - t.query_start_s), abs(p["source_end"] - t.query_end_s),
                       abs(p["target_start"] - t.source_start_s), abs(p["target_end"] - t.source_end_s)]
    r_den = sum(t.query_end_s - t.query_start_s for t in truth)
    return {"p_num": p_num, "p_den": p_den, "r_num": r_num, "r_den": r_den, "errors": errors}


# ----------------------------------------------------------------- evaluation
def evaluate(rows: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """Quality at ``threshold`` of the per-query rows (hits: asset, score, segments)."""
    positives = [r for r in rows if r["asset_id"] is not None]
    negatives = [r for r in rows if r["asset_id"] is None]
    top1 = sum(1 for r in positives if r["hits"] and r["hits"][0]["asset_id"] == r["asset_id"]
               and r["hits"][0]["score"] >= threshold)
    top1_any = sum(1 for r in positives if r["hits"] and r["hits"][0]["asset_id"] == r["asset_id"])
    false_alarms = sum(1 for r in negatives if any(h["score"] >= threshold for h in r["hits"]))
    wrong = sum(1 for r in positives for h in r["hits"] if h["asset_id"] != r["asset_id"] and h["score"] >= threshold)
    sums = {"p_num": 0.0, "p_den": 0.0, "r_num": 0.0, "r_den": 0.0}
    errors: list[float] = []
    per_transform: dict[str, list[int]] = {}
    for r in positives:
        hit = next((h for h in r["hits"] if h["asset_id"] == r["asset_id"] and h["score"] >= threshold), None)
        scored = segment_scores(hit["segments"] if hit else [], r["truth"])
        for key in sums:
            sums[key] += scored[key]
        errors += scored["errors"]
        ok = bool(r["hits"]) and r["hits"][0]["asset_id"] == r["asset_id"] and r["hits"][0]["score"] >= threshold
        per_transform.setdefault(r["transform"], []).append(int(ok))
    precision = sums["p_num"] / sums["p_den"] if sums["p_den"] else 1.0
    recall = sums["r_num"] / sums["r_den"] if sums["r_den"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "positive_queries": len(positives),
        "negative_queries": len(negatives),
        "top1_hit_rate": top1 / max(len(positives), 1),
        "top1_hit_rate_ignoring_threshold": top1_any / max(len(positives), 1),
        "false_alarm_rate_on_negatives": false_alarms / max(len(negatives), 1),
        "wrong_asset_matches_on_positives": wrong,
        "segment_precision": precision,
        "segment_recall": recall,
        "segment_f1": f1,
        "median_boundary_error_s": float(np.median(errors)) if errors else None,
        "p90_boundary_error_s": float(np.percentile(errors, 90)) if errors else None,
        "top1_by_transform": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(per_transform.items())},
    }


def calibrate(rows: list[dict[str, Any]]) -> dict[str, float]:
    scores = [h["score"] for r in rows for h in r["hits"]]
    positives = [h["asset_id"] == r["asset_id"] for r in rows for h in r["hits"]]
    n_positives = sum(1 for r in rows if r["asset_id"] is not None)
    threshold, precision, recall = threshold_at_precision(np.array(scores), np.array(positives), n_positives,
                                                          PRECISION_TARGET)
    return {"threshold": threshold, "precision": precision, "recall": recall}


# ----------------------------------------------------------------- PDQ baseline (vPDQ-style)
def pdq_hashes(path: Path, sampling: VideoSamplingConfig) -> np.ndarray:
    """(n, 256) bool PDQ hashes of the frames at 1 fps whose quality is >= 50 (as vPDQ keeps them)."""
    import pdqhash

    video = sample_frames(path, dataclasses.replace(sampling, fps=1.0, trim_borders=False))
    hashes = []
    for frame in video.frames:
        bits, quality = pdqhash.compute(np.ascontiguousarray(frame))
        if quality >= PDQ_MIN_QUALITY:
            hashes.append(bits.astype(bool))
    return np.array(hashes, dtype=bool).reshape(-1, 256)


def pdq_rows(dataset: video_dataset.Dataset, sampling: VideoSamplingConfig) -> list[dict[str, Any]]:
    """Bag-of-frames match: score = share of query frames with a catalog frame within Hamming 31."""
    catalog = {name: pdq_hashes(path, sampling) for name, path in dataset.catalog.items()}
    rows = []
    for query in dataset.queries:
        hashes = pdq_hashes(query.path, sampling)
        hits = []
        for name, ref in catalog.items():
            if len(hashes) and len(ref):
                distances = (hashes[:, None, :] != ref[None, :, :]).sum(axis=2)
                score = float((distances.min(axis=1) <= PDQ_MAX_HAMMING).mean())
                if score > 0:
                    hits.append({"asset_id": name, "score": score, "segments": []})
        hits.sort(key=lambda h: -h["score"])
        rows.append(_row(query, hits[:5]))
    return rows


def _row(query: video_dataset.Query, hits: list[dict[str, Any]]) -> dict[str, Any]:
    return {"query": query.name, "asset_id": query.asset_id, "transform": query.transform, "split": query.split,
            "truth": query.truth, "hits": hits}


# ----------------------------------------------------------------- main
def run(args: argparse.Namespace) -> dict[str, Any]:
    sampling = VideoSamplingConfig(fps=args.fps)
    load_before = os.getloadavg()
    embedder = FrameEmbedder(ExtractorConfig(threads=os.cpu_count() or 2))
    started = time.perf_counter()
    dataset = video_dataset.build(CACHE_DIR / "video_bench", embedder.embed)
    LOG.info("dataset ready in %.0f s: %d catalog videos, %d queries", time.perf_counter() - started,
             len(dataset.catalog), len(dataset.queries))
    catalog_seconds = sum(video_dataset.video_duration_s(p) for p in dataset.catalog.values())
    speed: dict[str, Any] = {"embed_frames_per_s": embed_throughput(embedder)}
    for name, path in video_dataset.speed_videos(CACHE_DIR / "video_bench").items():
        speed[name] = speed_figures({name: path}, embedder, sampling)
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog.open(Path(tmp) / "catalog", FeatureConfig(visual=embedder.config, video=sampling).record())
        speed["catalog_360p"] = speed_figures(dataset.catalog, embedder, sampling, catalog)
        search_config = VideoSearchConfig(thresholds=Thresholds(match=1e-6, high=1e-6))  # keep every scored hit
        rows, latencies = [], []
        for query in dataset.queries:
            t0 = time.perf_counter()
            hits = search_video(catalog, embedder, sample_frames(query.path, sampling), top_k=5, config=search_config)
            latencies.append((query.duration_s, time.perf_counter() - t0))
            rows.append(_row(query, [{"asset_id": h.asset_id, "score": h.envelope.similarity_score,
                                      "segments": [s.to_dict() for s in h.envelope.matched_segments]} for h in hits]))
        catalog.close()
    ten_s = [s for d, s in latencies if 9.0 <= d <= 11.0] or [s * 10.0 / d for d, s in latencies]
    calibration = [r for r in rows if r["split"] == "calibration"]
    test = [r for r in rows if r["split"] == "test"]
    cal = calibrate(calibration)
    pdq = pdq_rows(dataset, sampling) if not args.skip_pdq else []
    pdq_cal = calibrate([r for r in pdq if r["split"] == "calibration"]) if pdq else None
    return {
        "command": "python -m benchmarks.video_bench " + " ".join(sys.argv[1:]),
        # Other work on a shared machine slows the speed figures: the 1-minute load average before and after.
        "machine": machine_info() | {"load_average_before_after": [round(load_before[0], 2),
                                                                   round(os.getloadavg()[0], 2)]},
        "model": embedder.record(),
        "sampling": dataclasses.asdict(sampling) | {"border": None},
        "dataset": {"catalog_videos": len(dataset.catalog), "catalog_seconds": round(catalog_seconds, 1),
                    "queries": len(dataset.queries), "calibration_queries": len(calibration),
                    "test_queries": len(test), "resolution": list(video_dataset.SIZE), "fps": video_dataset.FPS},
        "calibration": cal,
        "test": evaluate(test, cal["threshold"]),
        "calibration_split_at_threshold": evaluate(calibration, cal["threshold"]),
        "pdq_baseline": None if not pdq else {
            "calibration": pdq_cal,
            "test": evaluate([r for r in pdq if r["split"] == "test"], pdq_cal["threshold"]),
        },
        "per_query": [{"query": r["query"], "split": r["split"], "transform": r["transform"], "asset_id": r["asset_id"],
                       "truth": [dataclasses.asdict(t) for t in r["truth"]], "hits": r["hits"][:3]} for r in rows],
        "speed": speed | {
            "query_latency_10s_clip_p50_ms": 1000 * float(np.median(ten_s)),
            "query_latency_10s_clip_p99_ms": 1000 * float(np.percentile(ten_s, 99)),
            "query_latency_all_p50_ms": 1000 * float(np.median([s for _, s in latencies])),
        },
    }


def run_speed(args: argparse.Namespace) -> dict[str, Any]:
    """Speed figures alone, for a quiet moment on a shared machine."""
    sampling = VideoSamplingConfig(fps=args.fps)
    load_before = os.getloadavg()
    embedder = FrameEmbedder(ExtractorConfig(threads=os.cpu_count() or 2))
    dataset = video_dataset.build(CACHE_DIR / "video_bench", embedder.embed)
    speed: dict[str, Any] = {"embed_frames_per_s": embed_throughput(embedder)}
    for name, path in video_dataset.speed_videos(CACHE_DIR / "video_bench").items():
        speed[name] = speed_figures({name: path}, embedder, sampling)
    with tempfile.TemporaryDirectory() as tmp:  # as in the full run: video-only pipeline, soundtracks ignored
        with Catalog.open(Path(tmp) / "c", FeatureConfig(visual=embedder.config, video=sampling).record()) as catalog:
            speed["catalog_360p"] = speed_figures(dataset.catalog, embedder, sampling, catalog)
    return {"command": "python -m benchmarks.video_bench " + " ".join(sys.argv[1:]),
            "machine": machine_info() | {"load_average_before_after": [round(load_before[0], 2),
                                                                       round(os.getloadavg()[0], 2)]},
            "sampling_fps": sampling.fps, "speed": speed}


def write_markdown(result: dict[str, Any], path: Path) -> None:
    test, speed = result["test"], result["speed"]
    pdq = result["pdq_baseline"]
    lines = [
        "# Video benchmark",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']['cpu']}, {result['machine']['cores']} cores, {result['machine']['platform']}, "
        f"PyAV {result['machine']['libraries']['av']}, "
        f"load average before/after {result['machine']['load_average_before_after']}  ",
        f"Model: {result['model']['model']} at {result['model']['input_size']} px; sampling {result['sampling']['fps']} fps",
        "",
        f"Data: {result['dataset']['catalog_videos']} catalog videos ({result['dataset']['catalog_seconds']} s, "
        f"{result['dataset']['resolution'][0]}x{result['dataset']['resolution'][1]} at {result['dataset']['fps']:g} fps) "
        f"from real photos and clips; {result['dataset']['queries']} queries "
        f"({result['dataset']['calibration_queries']} calibration, {result['dataset']['test_queries']} test).",
        "",
        f"Threshold calibrated on the calibration split for precision >= {PRECISION_TARGET}: "
        f"**{result['calibration']['threshold']:.4f}** (calibration precision {result['calibration']['precision']:.3f}, "
        f"recall {result['calibration']['recall']:.3f}). Figures below are on the **test split**.",
        "",
        "| measure | nearmatch | PDQ baseline (vPDQ-style) | target |",
        "| --- | --- | --- | --- |",
    ]

    def fmt(value: Any) -> str:
        return "n/a" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))

    pdq_test = pdq["test"] if pdq else {}
    for key, target in (("top1_hit_rate", ">= 0.97"), ("top1_hit_rate_ignoring_threshold", ""),
                        ("segment_precision", ""), ("segment_recall", ""), ("segment_f1", ">= 0.90"),
                        ("median_boundary_error_s", "<= 1 s"), ("p90_boundary_error_s", ""),
                        ("false_alarm_rate_on_negatives", "<= 0.02"), ("wrong_asset_matches_on_positives", "")):
        baseline = pdq_test.get(key) if key not in ("segment_precision", "segment_recall", "segment_f1",
                                                    "median_boundary_error_s", "p90_boundary_error_s") else None
        lines.append(f"| {key} | {fmt(test[key])} | {fmt(baseline)} | {target} |")
    lines += [
        "",
        f"Embedder alone: {speed['embed_frames_per_s']:.1f} frames/s. Query latency (sample, embed, search, "
        f"align) of a 10 s clip: p50 {speed['query_latency_10s_clip_p50_ms']:.0f} ms, "
        f"p99 {speed['query_latency_10s_clip_p99_ms']:.0f} ms.",
        "",
        "| videos | raw decode (s of video/s) | sampling (s/s) | sampling / raw | ingest (s/s) | ingest / raw |",
        "| --- | --- | --- | --- | --- | --- |",
    ] + [f"| {k} | {v['raw_decode_video_s_per_s']:.1f} | {v['sampling_video_s_per_s']:.1f} | "
         f"{v['sampling_over_raw_decode']:.2f} | {v['ingest_video_s_per_s']:.1f} | {v['ingest_over_raw_decode']:.2f} |"
         for k, v in speed.items() if isinstance(v, dict)] + [
        "",
        "Top-1 by transformation (test split): " + ", ".join(f"{k} {v}" for k, v in test["top1_by_transform"].items()),
        "",
    ]
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=VideoSamplingConfig().fps, help="frame sampling rate")
    parser.add_argument("--out", type=Path, default=RESULTS / "video", help="results path without suffix")
    parser.add_argument("--skip-pdq", action="store_true", help="leave out the PDQ baseline")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the speed figures (decode, sampling, ingest, embedder) into OUT_speed.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.speed_only:
        out = args.out.with_name(args.out.name + "_speed.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(run_speed(args), indent=1))
        print(out.read_text())
        return 0
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=1, default=str))
    write_markdown(result, args.out.with_suffix(".md"))
    print(args.out.with_suffix(".md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
