"""Markdown tables for the image benchmark's results (``benchmarks/results/image.md``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

METHOD_NAMES = {"nearmatch": "nearmatch", "phash": "pHash (imagehash)", "pdq": "PDQ (pdqhash)"}


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def write_markdown(results: dict[str, Any], path: Path, sweep_path: Path | None = None) -> None:
    """Write the benchmark's tables; the sweep table is included when ``sweep_path`` exists."""
    lines = [f"# Image benchmark ({results['extractor']['model']})", "",
             f"Command: `{results['command']}`", ""]
    machine = results["machine"]
    lines += [f"Machine: {machine['cpu']}, {machine['cores']} cores, Python {machine['python']}.", ""]
    data = results["dataset"]
    lines += [
        f"Catalog: {data['catalog_images']} images ({data['originals']} originals with copies among the queries, "
        f"{data['distractors']} distractors). Queries: {data['queries']} ({data['queries_with_copy']} transformed "
        f"copies, {data['queries_without_copy']} with no copy in the catalog), split by original into "
        f"{data['calibration_queries']} calibration and {data['test_queries']} test queries.",
        "",
        "Extractor: `" + json.dumps(results["extractor"], sort_keys=True) + "`",
        "",
        "## Accuracy (pooled top-10 predictions, DISC2021 protocol)",
        "",
        "| method | split | µAP | recall at precision 0.99 | top-1 accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for method, block in results["methods"].items():
        for split in ("calibration", "test"):
            s = block[split]
            lines.append(f"| {METHOD_NAMES.get(method, method)} | {split} | {s['micro_ap']:.4f} | "
                         f"{s['recall_at_p99']:.4f} | {s['top1_accuracy']:.4f} |")
    lines += ["", "## Thresholds calibrated on the calibration split, reported on the test split", "",
              "| method | match (P >= 0.99 on calibration) | high (P >= 0.999) | test precision at match | "
              "test recall at match | test precision at high | test recall at high | no-copy test queries matched |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for method, block in results["methods"].items():
        t, m, h = block["calibrated_thresholds"], block["test_at_match"], block["test_at_high"]
        lines.append(f"| {METHOD_NAMES.get(method, method)} | {t['match']:.3f} | {t['high']:.3f} | "
                     f"{m['precision']:.4f} | {m['recall']:.4f} | {h['precision']:.4f} | {h['recall']:.4f} | "
                     f"{m['no_copy_queries_with_a_match']} / {m['no_copy_queries']} |")
    lines += ["", "## Test split per transformation: recall at each method's calibrated match threshold "
              "(top-1 accuracy in brackets)", ""]
    methods = list(results["methods"])
    lines += ["| transformation | queries | " + " | ".join(METHOD_NAMES.get(m, m) for m in methods) + " |",
              "| --- | --- |" + " --- |" * len(methods)]
    labels = list(results["methods"][methods[0]]["test_per_transform"])
    for label in labels:
        row = results["methods"][methods[0]]["test_per_transform"][label]
        cells = []
        for method in methods:
            r = results["methods"][method]["test_per_transform"][label]
            cells.append(f"{_pct(r['recall_at_threshold'])} ({_pct(r['top1_accuracy'])})")
        lines.append(f"| {label} | {row['queries']} | " + " | ".join(cells) + " |")
    speed = results["speed"]
    lines += [
        "", "## Speed (same run, same machine)", "",
        "| measure | value |", "| --- | --- |",
        f"| ingest, end to end (read, hash, decode, trim, resize, embed, store), images/s | "
        f"{speed['ingest_images_per_s']:.1f} |",
        f"| raw ONNX model on decoded, resized images, the faster way to run it, images/s "
        f"(mean of right before / right after ingest) | {speed['raw_model_images_per_s']:.1f} "
        f"({speed['raw_model_images_per_s_before_ingest']:.1f} / {speed['raw_model_images_per_s_after_ingest']:.1f}) |",
        *(f"| raw ONNX model, {label} (mean of every timing), images/s | {value:.1f} |"
          for label, value in speed.get("raw_model_images_per_s_by_calls", {}).items()),
        f"| ingest / raw model (median of {len(speed['ingest_trials'])} ingests, each between two raw timings) | "
        f"{speed['ingest_over_raw_model']:.2f} (trials: "
        + ", ".join(f"{t['ratio']:.2f}" for t in speed["ingest_trials"]) + ") |",
        f"| raw decode (Pillow, JPEG draft at {results['extractor']['jpeg_draft_scale']:g}x input size, one thread), images/s | "
        f"{speed['raw_decode_images_per_s']:.1f} |",
        f"| raw preprocessing (border trim and resize, one thread), images/s | "
        f"{speed['raw_preprocess_images_per_s']:.1f} |",
        f"| query latency p50 / p99 (decode, embed, search; one at a time), ms | "
        f"{speed['query_latency_ms_p50']:.1f} / {speed['query_latency_ms_p99']:.1f} |",
        f"| distinct model input shapes among the {speed['images']} catalog images | {speed['distinct_input_shapes']} |",
        f"| 1-minute load average before / after (a shared machine makes every speed figure noisy) | "
        f"{speed['load_average_1min_before']:.2f} / {speed['load_average_1min_after']:.2f} |",
    ]
    if sweep_path is not None and sweep_path.exists():
        from benchmarks.image_sweep import sweep_table

        sweep = json.loads(sweep_path.read_text())
        lines += ["", "## Preprocessing sweep (calibration split only)", "",
                  f"Command: `{sweep['command']}`", ""]
        if sweep.get("note"):
            lines += [f"Note: {sweep['note']}.", ""]
        lines += sweep_table(sweep["rows"])
    path.write_text("\n".join(lines) + "\n")
