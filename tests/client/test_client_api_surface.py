"""The public surface: Synapse SDK method names, signatures, exceptions, enums, request models."""

from __future__ import annotations

import inspect
import pickle
import subprocess
import sys

import pytest

from synapse_nb import exceptions as exc
from synapse_nb._config import RetryPolicy, Timeout
from synapse_nb.clients import (
    AnnotationClientMixin,
    BackendClient,
    CoreClientMixin,
    DataCollectionClientMixin,
    HITLClientMixin,
    IntegrationClientMixin,
    MLClientMixin,
    RayClient,
)
from synapse_nb.models import (
    JobStatus,
    JobUpdate,
    RunPlugin,
    StorageCategory,
    StorageCreate,
    StorageProvider,
)

# The Synapse SDK's documented methods, with the Synapse SDK's positional parameters.
SEED_METHODS = {
    AnnotationClientMixin: {
        "get_project": ["pk"],
        "get_task": ["pk", "params"],
        "annotate_task_data": ["pk", "data"],
        "list_tasks": ["params", "url_conversion", "list_all"],
        "create_tasks": ["data"],
        "set_tags_tasks": ["data", "params"],
        "get_task_tag": ["pk"],
        "list_task_tags": ["params"],
    },
    CoreClientMixin: {"create_chunked_upload": ["file_path"]},
    DataCollectionClientMixin: {
        "list_data_collection": [],
        "get_data_collection": ["data_collection_id"],
        "create_data_file": ["file_path", "use_chunked_upload"],
        "upload_data_file": ["organized_file", "collection_id", "use_chunked_upload"],
        "create_data_units": ["uploaded_files"],
    },
    HITLClientMixin: {
        "get_assignment": ["pk"],
        "list_assignments": ["params", "url_conversion", "list_all"],
        "set_tags_assignments": ["data", "params"],
    },
    IntegrationClientMixin: {
        "health_check_agent": ["token"],
        "get_plugin": ["pk"],
        "create_plugin": ["data"],
        "update_plugin": ["pk", "data"],
        "run_plugin": ["pk", "data"],
        "create_plugin_release": ["data"],
        "get_plugin_release": ["pk", "params"],
        "list_jobs": ["params"],
        "get_job": ["pk", "params"],
        "update_job": ["pk", "data"],
        "list_job_console_logs": ["pk"],
        "list_storages": ["params"],
        "get_storage": ["pk"],
        "create_storage": ["data"],
    },
    MLClientMixin: {
        "list_models": ["params"],
        "get_model": ["pk", "params", "url_conversion"],
        "create_model": ["data"],
        "list_ground_truth_events": ["params", "url_conversion", "list_all"],
        "get_ground_truth_version": ["pk"],
    },
}

RAY_METHODS = {
    "list_jobs": [],
    "get_job": ["pk"],
    "stop_job": ["pk"],
    "list_job_logs": ["pk"],
    "tail_job_logs": ["pk", "stream_timeout", "protocol"],
    "stream_tail_job_logs": ["pk", "stream_timeout"],
    "websocket_tail_job_logs": ["pk", "stream_timeout"],
    "list_nodes": [],
    "get_node": ["pk"],
    "list_tasks": [],
    "get_task": ["pk"],
    "list_serve_applications": [],
    "get_serve_application": ["pk"],
    "delete_serve_application": ["pk"],
}


def _positional(func):
    params = list(inspect.signature(func).parameters.values())[1:]
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [p.name for p in params if p.kind in kinds]


@pytest.mark.parametrize(
    ("mixin", "name", "expected"),
    [(m, n, args) for m, methods in SEED_METHODS.items() for n, args in methods.items()],
)
def test_seed_method_exists_with_seed_signature(mixin, name, expected):
    method = getattr(mixin, name)
    assert _positional(method) == expected
    assert getattr(BackendClient, name) is method
    assert method.__doc__ and "Example:" in method.__doc__


@pytest.mark.parametrize(("name", "expected"), list(RAY_METHODS.items()))
def test_ray_method_exists(name, expected):
    assert _positional(getattr(RayClient, name)) == expected


def test_constructor_signature_matches_the_seed():
    assert _positional(BackendClient.__init__) == [
        "base_url",
        "api_token",
        "agent_token",
        "timeout",
    ]
    keyword_only = {
        p.name
        for p in inspect.signature(BackendClient.__init__).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    assert {"access_token", "tenant"} <= keyword_only


@pytest.mark.parametrize(
    ("module", "name", "good"),
    [
        ("synapse_nb.clients.backend", "_HEADER_SAFE", "tok-123"),
        ("synapse_nb.clients._validate", "_REF", "yolo-trainer@0.1.0"),
        ("synapse_nb.clients.integration", "_AGENT_TOKEN", "abc_123"),
        ("synapse_nb.clients.agent", "_ID", "job-1"),
        ("synapse_nb.plugins.runtime", "JOB_ID_RE", "job-1"),
    ],
)
def test_id_and_token_patterns_refuse_a_final_newline(module, name, good):
    # "$" also matches before a final "\n": the patterns end in "\Z", safe with match too
    import importlib

    pattern = getattr(importlib.import_module(module), name)
    assert pattern.match(good) and pattern.fullmatch(good)
    for bad in (good + "\n", good + "\r\n", good + "\n\n"):
        assert not pattern.match(bad) and not pattern.fullmatch(bad)


def test_importing_clients_pulls_no_pandas_or_widgets():
    code = (
        "import sys, synapse_nb.clients, synapse_nb.exceptions, synapse_nb.models\n"
        "print(sorted(m for m in ('pandas', 'ipywidgets', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exception_tree_and_aliases():
    for cls in (
        exc.AuthenticationError,
        exc.PermissionDeniedError,
        exc.NotFoundError,
        exc.ValidationError,
        exc.RateLimitError,
        exc.ServerError,
        exc.ClientTimeoutError,
        exc.ClientConnectionError,
        exc.ResponseIncompleteError,
        exc.UploadInterruptedError,
        exc.InvalidInputError,
    ):
        assert issubclass(cls, exc.ClientError)
    assert exc.AuthorizationError is exc.PermissionDeniedError
    assert exc.error_class_for_status(401) is exc.AuthenticationError
    assert exc.error_class_for_status(422) is exc.ValidationError
    assert exc.error_class_for_status(504) is exc.ServerError
    assert exc.error_class_for_status(418) is exc.ClientError
    err = exc.ValidationError(
        400, {"name": ["This field is required."]}, method="POST", path="plugins/"
    )
    assert str(err) == "POST plugins/ failed (400): name: This field is required."
    assert err.status == err.status_code == 400 and err.detail == err.reason == err.response
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is exc.ValidationError and str(clone) == str(err)
    assert clone.method == "POST" and clone.response == err.response


def test_config_validation():
    assert Timeout.coerce({"connect": 1}).read == 30.0
    with pytest.raises(ValueError, match="unknown keys"):
        Timeout.coerce({"write": 1})
    with pytest.raises(ValueError, match="total"):
        RetryPolicy(total=-1)
    assert RetryPolicy.coerce(False).total == 0
    assert RetryPolicy.coerce({"total": 2}).total == 2


def test_enums_and_models():
    assert JobStatus("completed") is JobStatus.SUCCEEDED
    assert JobStatus("Running") is JobStatus.RUNNING
    assert JobStatus("cancelled") is JobStatus.STOPPED
    with pytest.raises(ValueError):
        JobStatus("exploded")
    assert StorageCategory("INTERNAL") is StorageCategory.INTERNAL
    assert StorageProvider("FTP") is StorageProvider.FTP
    assert StorageProvider.normalize("smb") == "smb" == StorageProvider.SMB
    assert StorageProvider.normalize("backblaze_b2") == "backblaze_b2"
    assert StorageCreate(name="x", provider="GCP").provider == "gcp"
    assert JobUpdate(status="completed").model_dump(mode="json", exclude_none=True) == {
        "status": "SUCCEEDED"
    }
    body = RunPlugin.model_validate({"parameters": {"a": 1}, "action": "run"})
    assert body.model_dump(mode="json", exclude_none=True) == {
        "action": "run",
        "params": {"a": 1},
        "language": "ko",
    }
