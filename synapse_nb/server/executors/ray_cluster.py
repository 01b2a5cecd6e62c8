"""What a Ray cluster offers, read from the cluster itself (for the agent API).

Nodes come from Ray's state API (each node's id, address, state and total resources); Ray
Serve applications from the dashboard's Serve endpoint (none when Serve is not running).
Values Ray does not report (a node's free memory, each GPU's use) are None, never guessed.
"""

from __future__ import annotations

from typing import Any

import requests

__all__ = ["RayCluster"]


def node_shape(state: Any) -> dict[str, Any]:
    """A node of Ray's state API in the agent API's node shape.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> n = NS(node_id="ab", node_name="h", node_ip="127.0.0.1", state="ALIVE",
        ...        resources_total={"CPU": 1.0, "memory": 2e9}, is_head_node=True)
        >>> shape = node_shape(n)
        >>> shape["resources"]["CPU"], shape["alive"], shape["memory_available"]
        (1.0, True, None)
    """
    resources = {str(k): float(v) for k, v in (state.resources_total or {}).items()}
    gpus = int(resources.get("GPU", 0))
    memory = resources.get("memory")
    return {
        "node_id": state.node_id,
        "node_name": state.node_name,
        "node_ip": state.node_ip,
        "state": state.state,
        "alive": state.state == "ALIVE",
        "is_head_node": bool(state.is_head_node),
        "resources": resources,
        "memory_total": int(memory) if memory is not None else None,
        "memory_available": None,
        "gpus": [{"index": i} for i in range(gpus)],
        "source": "ray",
    }


class RayCluster:
    """The cluster behind a Ray Jobs API address.

    Args:
        dashboard_url: the cluster's dashboard (``http://host:8265``).
        headers: the headers of every request (Ray's token).

    Example:
        >>> RayCluster("http://127.0.0.1:8265").dashboard_url
        'http://127.0.0.1:8265'
    """

    def __init__(self, dashboard_url: str, headers: dict[str, str] | None = None) -> None:
        self.dashboard_url = dashboard_url.rstrip("/")
        self._headers = dict(headers or {})

    def __repr__(self) -> str:  # the token stays out
        return f"<RayCluster {self.dashboard_url}>"

    def nodes(self) -> list[dict[str, Any]]:
        """The cluster's nodes (alive and dead ones), in the agent API's node shape."""
        from ray.util.state.api import StateApiClient
        from ray.util.state.common import ListApiOptions, StateResource

        client = StateApiClient(address=self.dashboard_url, headers=self._headers)
        found = client.list(
            StateResource.NODES, options=ListApiOptions(detail=True), raise_on_missing_output=False
        )
        return [node_shape(n) for n in found]

    def gpu_status(self) -> dict[str, Any]:
        """Totals over the alive nodes: CPUs, memory and GPUs as Ray counts them."""
        alive = [n for n in self.nodes() if n["alive"]]
        gpus = [dict(g, node_id=n["node_id"]) for n in alive for g in n["gpus"]]
        memory = [n["memory_total"] for n in alive if n["memory_total"] is not None]
        return {
            "gpus": gpus,
            "total": len(gpus),
            "available": None,
            "cpu_count": int(sum(n["resources"].get("CPU", 0) for n in alive)),
            "memory_total": sum(memory) if memory else None,
            "memory_available": None,
            "nodes": len(alive),
            "source": "ray",
        }

    def serve_applications(self) -> list[dict[str, Any]]:
        """Ray Serve's applications (none when Serve is not installed or does not run)."""
        response = requests.get(
            f"{self.dashboard_url}/api/serve/applications/", headers=self._headers, timeout=10
        )
        if response.status_code in (404, 501):  # Serve is not installed / not running
            return []
        response.raise_for_status()
        apps = (response.json() or {}).get("applications") or {}
        return [
            {
                "name": name,
                "status": app.get("status"),
                "route_prefix": app.get("route_prefix"),
                "message": app.get("message"),
                "deployments": sorted((app.get("deployments") or {}).keys()),
            }
            for name, app in apps.items()
        ]
