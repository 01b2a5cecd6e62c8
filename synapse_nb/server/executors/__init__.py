"""Where plugin jobs run: the local executor (subprocesses of the backend, the default).

=======================  ==============================================================
:mod:`.release`          release archives: config validation, safe unpacking, params
:mod:`.process`          one job process: launch, output pump, stop, exit mapping
:mod:`.local`            the bounded pool of job processes, job tokens, restart recovery
:mod:`.machine`          what this machine offers (CPU, memory, GPUs) for the agent API
=======================  ==============================================================
"""

from .local import LocalExecutor
from .release import ReleaseError

__all__ = ["LocalExecutor", "ReleaseError"]
