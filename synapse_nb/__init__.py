"""synapse_nb: work with the Synapse ML-data platform from Jupyter.

Heavy parts (the embedded server, pandas frames, widgets) load on first use, so
``import synapse_nb`` stays fast.

Example:
    >>> import synapse_nb
    >>> srv = synapse_nb.server.start(demo=True)
    >>> client = synapse_nb.BackendClient(srv.url, api_token=srv.token)
    >>> [project["title"] for project in client.list_projects()["results"]]
    ['Street detection', 'Pedestrian pose', 'Upload sandbox']
    >>> client.close(); srv.stop()
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> "module:attribute" (or "module" for a submodule)
_LAZY = {
    "AgentClient": "synapse_nb.clients:AgentClient",
    "BackendClient": "synapse_nb.clients:BackendClient",
    "Client": "synapse_nb.frames:Client",
    "ClientError": "synapse_nb.exceptions:ClientError",
    "JobStatus": "synapse_nb.models:JobStatus",
    "RayClient": "synapse_nb.clients:RayClient",
    "ResponseLimits": "synapse_nb._config:ResponseLimits",
    "RetryPolicy": "synapse_nb._config:RetryPolicy",
    "StorageCategory": "synapse_nb.models:StorageCategory",
    "StorageProvider": "synapse_nb.models:StorageProvider",
    "StreamLimits": "synapse_nb.clients:StreamLimits",
    "SynapseNBError": "synapse_nb.exceptions:SynapseNBError",
    "Timeout": "synapse_nb._config:Timeout",
    "compare_models": "synapse_nb.frames:compare_models",
    "connect": "synapse_nb.session:connect",
    "exceptions": "synapse_nb.exceptions",
    "explore": "synapse_nb.widgets:explore",
    "export": "synapse_nb.plugins:export",
    "server": "synapse_nb.server",
    "start_server": "synapse_nb.server:start",
    "upload": "synapse_nb.plugins:upload",
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'synapse_nb' has no attribute {name!r}")
    module_name, _, attribute = target.partition(":")
    module = importlib.import_module(module_name)
    value = getattr(module, attribute) if attribute else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
