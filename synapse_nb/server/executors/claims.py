"""One-time claim codes: how a job on Ray gets its token without the token travelling to Ray.

What the backend hands to Ray (the job's working directory, which Ray packages, uploads and
unpacks where anyone with access to the cluster can read it) carries a claim code instead of
the job's API token. The job's launcher exchanges the code once, over HTTP at the backend's
internal ``internal/jobs/<id>/claim/`` route, for a token minted at that moment; the token
then lives only in the job's own process and in a 0600 file of its scratch folder. Only a
digest of a code is stored. A code is void once exchanged, once it expires
(:data:`CLAIM_TTL`), and once its job has ended (the executor voids it with the job's token).

Example:
    >>> import tempfile
    >>> from pathlib import Path
    >>> from synapse_nb.server.db import Database
    >>> db = Database(Path(tempfile.mkdtemp()) / "claims.sqlite3")
    >>> code = issue(db, "job-1")
    >>> redeem(db, "job-1", code), redeem(db, "job-1", code)
    (None, "is not this job's claim code, or was already used")
    >>> db.close()
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

from ..http import hash_token

__all__ = ["CLAIM_TTL", "ClaimRefused", "ensure_table", "issue", "redeem", "void"]

#: seconds a claim code stays valid: the job must start (and claim its token) within them
CLAIM_TTL = 600.0

_CLAIMS_SQL = (
    "CREATE TABLE IF NOT EXISTS job_claims "
    "(job_id TEXT PRIMARY KEY, hash TEXT NOT NULL, expires REAL NOT NULL)"
)
_UNKNOWN = "is not this job's claim code, or was already used"


class ClaimRefused(Exception):
    """A claim code that gives no token: unknown, used, expired, or its job has ended."""


def ensure_table(db: Any) -> None:
    """Create the table of claims (digests and expiry times) if it is missing."""
    with db.write() as con:
        con.execute(_CLAIMS_SQL)


def issue(db: Any, job_id: str, ttl: float = CLAIM_TTL) -> str:
    """A new claim code for ``job_id`` (replacing an earlier one), valid ``ttl`` seconds."""
    ensure_table(db)
    code = secrets.token_urlsafe(24)
    with db.write() as con:
        con.execute(
            "INSERT OR REPLACE INTO job_claims (job_id, hash, expires) VALUES (?, ?, ?)",
            (job_id, hash_token(code), time.time() + ttl),
        )
    return code


def redeem(db: Any, job_id: str, code: str) -> str | None:
    """Use up ``job_id``'s claim: None when ``code`` was valid, else why it is refused.

    A matching code is void afterwards, even when it had expired.
    """
    with db.write() as con:
        return redeem_in(con, job_id, code)


def redeem_in(con: Any, job_id: str, code: str) -> str | None:
    """:func:`redeem` inside the caller's write transaction (which may mint the token in the
    same transaction, so a job that ends meanwhile cannot leave a token behind)."""
    row = con.execute("SELECT hash, expires FROM job_claims WHERE job_id = ?", (job_id,)).fetchone()
    if row is None or not hmac.compare_digest(row[0], hash_token(code)):
        return _UNKNOWN
    con.execute("DELETE FROM job_claims WHERE job_id = ?", (job_id,))
    return None if row[1] > time.time() else "has expired"


def void(db: Any, job_id: str) -> None:
    """Forget ``job_id``'s claim (its job ended, or the backend gave up on it)."""
    with db.write() as con:
        con.execute("DELETE FROM job_claims WHERE job_id = ?", (job_id,))
