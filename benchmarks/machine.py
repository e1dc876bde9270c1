"""The machine a benchmark ran on, written beside every figure it produced."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

_LIBRARIES = ("onnxruntime", "faiss-cpu", "av", "lmdb", "numpy", "grpcio")


def machine_info() -> dict[str, Any]:
    """CPU model, core count, load average, Python, platform and the versions of the libraries that set speed."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(), "platform": platform.platform(), "libraries": versions}
