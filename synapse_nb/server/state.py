"""Process-wide state of one embedded backend: config, database, signer, token caches."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.requests import Request

from .config import ServerConfig
from .db import Database, now
from .http import ApiError, Principal, hash_token


class State:
    """Shared by every request of one app (``request.app.state.synapse``)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir = config.data_dir / "files"
        self.uploads_dir = config.data_dir / "uploads"
        for folder in (self.files_dir, self.uploads_dir):
            folder.mkdir(exist_ok=True)
        if not config.storage_roots:  # the default root of file_system storages
            config.allowed_storage_roots[0].mkdir(exist_ok=True)
        self.db = Database(config.data_dir / "synapse.sqlite3")
        self._secret = self._load_secret()
        self._token_cache: dict[str, Principal | None] = {}
        self._tenant_codes: dict[int, str] = {}
        self.journal: deque[dict] = deque(maxlen=max(config.journal_size, 1))
        self.lock = threading.Lock()
        self.jobs: Any = None  # set by the app factory (the LocalExecutor)
        #: upload id -> (bytes hashed, running md5) of chunked uploads in progress
        self.upload_hashes: dict[str, tuple[int, Any]] = {}
        #: upload id -> lock serialising the chunk PUTs of one upload (see routes/data.py)
        self.upload_locks: dict[str, Any] = {}
        #: (base URL, stored files JSON) -> serialized files of a data unit
        self.unit_files_cache: dict[tuple[str, str], dict] = {}

    # ------------------------------------------------------------------ secrets and urls
    def _load_secret(self) -> bytes:
        path = self.config.data_dir / "secret.key"
        if not path.exists():
            path.write_bytes(secrets.token_bytes(32))
            path.chmod(0o600)
        return path.read_bytes()

    def sign(self, kind: str, ident: int | str, name: str = "", expires: int | None = None) -> str:
        """The signature of a media URL: kind, object, file name and expiry, all covered."""
        message = f"{kind}:{ident}:{name}:{'' if expires is None else expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:24]

    def verify(
        self, kind: str, ident: int | str, name: str, signature: str, expires: int | None = None
    ) -> bool:
        """Whether ``signature`` was made for exactly this URL and has not expired."""
        if expires is not None and expires < time.time():
            return False
        if expires is None and self.config.media_url_ttl is not None:
            return False  # URLs must expire: one without an expiry is not honoured
        return hmac.compare_digest(self.sign(kind, ident, name, expires), signature)

    def origin(self, request: Request) -> str:
        """Scheme and host of absolute links: the configured public URL, or the request's own
        when its host is allowed (``Host`` headers are the client's to forge)."""
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        host = request.url.hostname or ""
        if host.strip("[]") not in self.config.allowed_hosts:
            raise ApiError(
                400,
                {
                    "detail": f"Invalid Host header {host!r}: links are only made for "
                    "the hosts in allowed_hosts, or from a configured public_url."
                },
            )
        return str(request.base_url).rstrip("/")

    def link(self, request: Request, path: str) -> str:
        """The absolute URL of ``path`` (a server path, prefix included)."""
        return self.origin(request) + path

    def base_url(self, request: Request) -> str:
        """Absolute base URL (scheme, host, API prefix) for links in responses."""
        return self.origin(request) + self.config.prefix

    def media_expiry(self) -> int | None:
        """When media URLs made now expire (rounded up to the minute, so pages share it)."""
        ttl = self.config.media_url_ttl
        return None if ttl is None else (int(time.time() + ttl) // 60 + 1) * 60

    def media_url(self, request: Request, kind: str, ident: int | str, file_name: str) -> str:
        """Absolute, unauthenticated URL of a stored file, signed over its whole path."""
        expires = self.media_expiry()
        signature = self.sign(kind, ident, file_name, expires)
        url = f"{self.base_url(request)}/media/{kind}/{ident}/{signature}/{quote(file_name)}"
        return url if expires is None else f"{url}?expires={expires}"

    # ------------------------------------------------------------------ auth
    def user_for_token(self, token: str) -> Principal | None:
        digest = hash_token(token)
        if digest in self._token_cache:
            return self._token_cache[digest]
        row = self.db.one(
            "SELECT u.id, u.tenant_id FROM tokens t JOIN users u ON u.id = t.user_id "
            "WHERE t.hash = ?",
            (digest,),
        )
        principal = Principal(row["id"], row["tenant_id"]) if row else None
        if principal is not None:
            self._token_cache[digest] = principal
        return principal

    def agent_for_token(self, token: str) -> Principal | None:
        row = self.db.one(
            "SELECT id, tenant_id FROM agents WHERE token_hash = ?", (hash_token(token),)
        )
        return Principal(None, row["tenant_id"], agent_id=row["id"]) if row else None

    def tenant_code(self, tenant_id: int) -> str:
        if tenant_id not in self._tenant_codes:
            self._tenant_codes[tenant_id] = self.db.scalar(
                "SELECT code FROM tenants WHERE id = ?", (tenant_id,)
            )
        return self._tenant_codes[tenant_id]

    def ensure_tenant(self, code: str, name: str | None = None) -> int:
        with self.db.write() as con:
            con.execute(
                "INSERT OR IGNORE INTO tenants (code, name) VALUES (?, ?)", (code, name or code)
            )
        return self.db.scalar("SELECT id FROM tenants WHERE code = ?", (code,))

    def ensure_user(
        self,
        username: str,
        tenant: str = "default",
        *,
        name: str | None = None,
        email: str = "",
        is_admin: bool = False,
    ) -> int:
        tenant_id = self.ensure_tenant(tenant)
        with self.db.write() as con:
            con.execute(
                "INSERT OR IGNORE INTO users (tenant_id, username, name, email, is_admin) "
                "VALUES (?, ?, ?, ?, ?)",
                (tenant_id, username, name or username.title(), email, int(is_admin)),
            )
        return self.db.scalar("SELECT id FROM users WHERE username = ?", (username,))

    def issue_token(self, username: str, token: str | None = None) -> str:
        """Store (the hash of) a token for ``username`` and return the token itself."""
        user_id = self.db.scalar("SELECT id FROM users WHERE username = ?", (username,))
        if user_id is None:
            raise KeyError(f"unknown user {username!r}")
        token = token or secrets.token_hex(20)
        with self.db.write() as con:
            con.execute(
                "INSERT OR REPLACE INTO tokens (hash, user_id, created) VALUES (?, ?, ?)",
                (hash_token(token), user_id, now()),
            )
        self._token_cache.pop(hash_token(token), None)
        return token

    def forget_token(self, digest: str) -> None:
        """Drop a revoked token's cached principal (its row is already deleted)."""
        self._token_cache.pop(digest, None)

    def store_path(self, rel_path: str) -> Path:
        return self.config.data_dir / rel_path
