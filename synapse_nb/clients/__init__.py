"""Synapse API clients. ``BackendClient`` keeps the Synapse SDK's names and signatures.

Importing this package is cheap: it pulls in requests and pydantic, never pandas or
ipywidgets (arrows point one way: widgets -> frames -> clients -> transport).

Example:
    >>> from synapse_nb.clients import BackendClient
    >>> BackendClient.__mro__[1].__name__
    'AnnotationClientMixin'
"""

from synapse_nb.clients._base import BaseClient, ListResult
from synapse_nb.clients.agent import AgentClient, RayClient, RayClientMixin, StreamLimits
from synapse_nb.clients.annotation import AnnotationClientMixin
from synapse_nb.clients.backend import BackendClient
from synapse_nb.clients.core import CoreClientMixin
from synapse_nb.clients.data_collection import DataCollectionClientMixin
from synapse_nb.clients.hitl import HITLClientMixin
from synapse_nb.clients.integration import IntegrationClientMixin
from synapse_nb.clients.ml import MLClientMixin

__all__ = [
    "AgentClient",
    "AnnotationClientMixin",
    "BackendClient",
    "BaseClient",
    "CoreClientMixin",
    "DataCollectionClientMixin",
    "HITLClientMixin",
    "IntegrationClientMixin",
    "ListResult",
    "MLClientMixin",
    "RayClient",
    "RayClientMixin",
    "StreamLimits",
]
