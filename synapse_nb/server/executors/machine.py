"""What this machine offers to jobs, read from the machine itself (for the agent API).

GPUs are listed by ``nvidia-smi`` when it is on the PATH; without it there are none.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

GPU_QUERY = "index,uuid,name,memory.total,memory.used,utilization.gpu"


def memory_bytes() -> tuple[int | None, int | None]:
    """(total, available) memory in bytes from ``/proc/meminfo``; None where unknown."""
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None, None
    values = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * 1024
    return values.get("MemTotal"), values.get("MemAvailable")


def gpus() -> list[dict[str, Any]]:
    """The GPUs ``nvidia-smi`` reports (empty when it is absent or fails).

    Example:
        >>> isinstance(gpus(), list)
        True
    """
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, f"--query-gpu={GPU_QUERY}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != 6:
            continue
        index, uuid, name, total, used, util = cells
        found.append(
            {
                "index": int(index) if index.isdigit() else index,
                "uuid": uuid,
                "name": name,
                "memory_total_mb": _number(total),
                "memory_used_mb": _number(used),
                "utilization_percent": _number(util),
            }
        )
    return found


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def node(running_jobs: int = 0) -> dict[str, Any]:
    """This machine as one node: CPU count, memory, load, GPUs.

    Example:
        >>> node()["resources"]["CPU"] == float(os.cpu_count() or 0)
        True
    """
    total, available = memory_bytes()
    found = gpus()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    resources: dict[str, float] = {"CPU": float(os.cpu_count() or 0)}
    if total is not None:
        resources["memory"] = float(total)
    if found:
        resources["GPU"] = float(len(found))
    hostname = socket.gethostname()
    return {
        "node_id": hostname,
        "node_name": hostname,
        "node_ip": "127.0.0.1",
        "state": "ALIVE",
        "alive": True,
        "resources": resources,
        "memory_total": total,
        "memory_available": available,
        "load_average": list(load) if load else None,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "gpus": found,
        "running_jobs": running_jobs,
    }
