"""Internal routes of the embedded backend, for its own job launchers (not the Synapse API).

``POST internal/jobs/<id>/claim/`` with ``{"claim": "<code>"}`` exchanges a job's one-time claim
code for the job's API token (see :mod:`..executors.claims`): the way a job on Ray gets its
token without the token travelling in what Ray packages. The claim code is the credential (no
other authentication); a code that is unknown, used, expired or whose job has ended is a 403.
These routes are left out of the OpenAPI schema.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ..executors.claims import ClaimRefused
from ..http import ApiError, Body, json_body, require_dict

router = APIRouter()


@router.post("/internal/jobs/{job_id}/claim/", include_in_schema=False)
@router.post("/internal/jobs/{job_id}/claim", include_in_schema=False)
async def claim_job_token(job_id: str, request: Request) -> dict:
    """The job's token for its claim code, once."""
    body = Body(require_dict(await json_body(request)))
    code = body.str("claim", required=True, max_length=200)
    body.check()
    executor = request.app.state.synapse.jobs
    try:
        token = await run_in_threadpool(executor.exchange_claim, job_id, code)
    except ClaimRefused as exc:
        raise ApiError(403, {"detail": f"This claim code {exc} (job {job_id[:64]})."}) from None
    return {"token": token}
