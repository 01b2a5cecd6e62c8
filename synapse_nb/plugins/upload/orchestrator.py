"""Runs the upload steps in order (Synapse SDK: ``UploadOrchestrator`` and ``StepRegistry``).

Each step has the Synapse SDK's ``progress_weight`` (they sum to 1) and reports progress in its
own category. When a step raises, the executed steps' ``rollback`` run in
reverse order (they persist the manifest) and the exception is re-raised with a note that
says what was done and how to resume.

Example:
    >>> registry = StepRegistry()
    >>> for step in default_steps():
    ...     registry.register(step)
    >>> len(registry), round(registry.get_total_progress_weight(), 2)
    (8, 1.0)
"""

from __future__ import annotations

from pathlib import Path  # noqa: F401  (docstring examples)
from typing import Any

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.plugins.upload.context import UploadContext
from synapse_nb.plugins.upload.steps import BaseStep, UploadError, default_steps

__all__ = ["StepRegistry", "UploadOrchestrator", "default_steps"]


class StepRegistry:
    """The workflow's steps, in execution order.

    Example:
        >>> StepRegistry().get_steps()
        []
    """

    def __init__(self) -> None:
        self._steps: list[BaseStep] = []

    def register(self, step: BaseStep) -> None:
        """Append a step.

        Example:
            >>> StepRegistry().register(default_steps()[-1])
        """
        self._steps.append(step)

    def get_steps(self) -> list[BaseStep]:
        """The steps in execution order.

        Example:
            >>> r = StepRegistry(); r.register(default_steps()[-1]); [s.name for s in r.get_steps()]
            ['cleanup']
        """
        return list(self._steps)

    def get_total_progress_weight(self) -> float:
        """Sum of the steps' progress weights (1.0 for the default steps).

        Example:
            >>> StepRegistry().get_total_progress_weight()
            0
        """
        return sum(step.progress_weight for step in self._steps)

    def clear(self) -> None:
        """Remove every step.

        Example:
            >>> r = StepRegistry(); r.register(default_steps()[-1]); r.clear(); len(r)
            0
        """
        self._steps.clear()

    def __len__(self) -> int:
        return len(self._steps)


class UploadOrchestrator:
    """Executes the registered steps against one :class:`UploadContext`.

    Example:
        >>> from PIL import Image
        >>> from synapse_nb.plugins.upload import prepare_upload
        >>> Path("one").mkdir(); Image.new("RGB", (8, 8), (37, 0, 0)).save("one/a.png")
        >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
        ...         if c["name"] == "Incoming uploads"][0]
        >>> orchestrator = UploadOrchestrator(*prepare_upload(backend, "one", incoming,
        ...                                   progress=False))
        >>> results = orchestrator.execute()
        >>> list(results)[:2], results["cleanup"].data
        (['initialize', 'process_metadata'], {'completed': True})
    """

    def __init__(self, context: UploadContext, step_registry: StepRegistry) -> None:
        self.context = context
        self.step_registry = step_registry
        self.executed_steps: list[BaseStep] = []
        self.current_step_index = 0
        self.rollback_executed = False

    def execute(self) -> dict[str, Any]:
        """Run every step; returns the results by step name.

        Raises:
            UploadError: A step reported that it cannot run.
            Exception: Whatever a step raised (after rollback, with a note on resuming).

        Example:
            >>> from PIL import Image
            >>> from synapse_nb.plugins.upload import prepare_upload
            >>> Path("one").mkdir(); Image.new("RGB", (8, 8), (39, 0, 0)).save("one/a.png")
            >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
            ...             if c["name"] == "Incoming uploads"][0]
            >>> orchestrator = UploadOrchestrator(*prepare_upload(backend, "one", incoming,
            ...                                                   progress=False))
            >>> orchestrator.execute()["cleanup"].success
            True
        """
        steps = self.step_registry.get_steps()
        for index, step in enumerate(steps):
            self.current_step_index = index
            try:
                if step.can_skip(self.context):
                    result = step.create_skip_result()
                else:
                    result = step.execute(self.context)
                    if not result:
                        raise UploadError(f"step {step.name}: {result.error}")
            except BaseException as exc:
                self._rollback_executed_steps(step)
                if not (isinstance(exc, InvalidInputError) and self._nothing_done()):
                    exc.add_note(self._resume_note(step))
                raise
            self.context.step_results[step.name] = result
            self.executed_steps.append(step)
        return dict(self.context.step_results)

    def get_executed_steps(self) -> list[BaseStep]:
        """The steps that finished, in order.

        Example:
            >>> from PIL import Image
            >>> from synapse_nb.plugins.upload import prepare_upload
            >>> Path("one").mkdir(); Image.new("RGB", (8, 8), (41, 0, 0)).save("one/a.png")
            >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
            ...             if c["name"] == "Incoming uploads"][0]
            >>> orchestrator = UploadOrchestrator(*prepare_upload(backend, "one", incoming,
            ...                                                   progress=False))
            >>> _ = orchestrator.execute()
            >>> [step.name for step in orchestrator.get_executed_steps()][-2:]
            ['generate_data_units', 'cleanup']
        """
        return list(self.executed_steps)

    def is_rollback_executed(self) -> bool:
        """True when a failure triggered the steps' rollback.

        Example:
            >>> from PIL import Image
            >>> from synapse_nb.plugins.upload import prepare_upload
            >>> Path("one").mkdir(); Image.new("RGB", (8, 8), (43, 0, 0)).save("one/a.png")
            >>> incoming = [c["id"] for c in backend.list_data_collections()["results"]
            ...             if c["name"] == "Incoming uploads"][0]
            >>> orchestrator = UploadOrchestrator(*prepare_upload(backend, "one", incoming,
            ...                                                   progress=False))
            >>> _ = orchestrator.execute(); orchestrator.is_rollback_executed()
            False
        """
        return self.rollback_executed

    def _rollback_executed_steps(self, failed: BaseStep) -> None:
        self.rollback_executed = True
        for step in [failed, *reversed(self.executed_steps)]:
            try:
                step.rollback(self.context)
            except Exception as exc:  # keep rolling back; the original error matters more
                self.context.warnings.append(f"rollback of {step.name} failed: {exc}")

    def _nothing_done(self) -> bool:
        """No file uploaded and no unit created by this run (a bad argument: no resuming)."""
        files = self.context.metrics.get("data_files", {})
        return not files.get("uploaded", 0) and not self.context.data_units

    def _resume_note(self, step: BaseStep) -> str:
        ctx = self.context
        files = ctx.metrics.get("data_files", {})
        done = (
            f"upload stopped in step {step.name!r}: {files.get('uploaded', 0)} files uploaded "
            f"and {len(ctx.data_units)} data units created by this run"
        )
        manifest = ctx.manifest.path if ctx.manifest is not None else None
        if manifest is not None and not manifest.exists():  # stopped before it recorded any
            return f"{done}; nothing was recorded, so run upload() again to start over"
        if manifest is None:
            return (
                f"{done}; without a manifest a re-run starts over (files already on the "
                "server are not sent again)"
            )
        return f"{done} are recorded in {str(manifest)!r}; run upload() again to resume"
