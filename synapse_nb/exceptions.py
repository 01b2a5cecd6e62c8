"""Exceptions raised by synapse_nb: one tree, one root.

Everything the package raises on purpose derives from :class:`SynapseNBError`, so
``except SynapseNBError`` catches every deliberate failure. Every error a client call can raise
-- an API call, a file download, a preview image, an export original, a log tail -- is a
:class:`ClientError`, so ``except ClientError`` is always enough around a client call. The
subclasses say *what kind* of failure it was::

    SynapseNBError                     root of the package's own errors
    ├── ClientError                    status_code, response, headers (+ status, reason, detail)
    │   ├── InvalidInputError          bad argument, nothing was sent (also a ValueError)
    │   ├── AuthenticationError        401: missing or wrong token
    │   ├── PermissionDeniedError      403: not allowed (alias AuthorizationError)
    │   ├── NotFoundError              404
    │   ├── ValidationError            400 / 422: the server rejected the body or params
    │   ├── RateLimitError             429 (after the transport's retries)
    │   ├── ServerError                5xx (after the transport's retries)
    │   ├── ClientTimeoutError         408-like: connect or read timeout
    │   │   └── DeadlineExceededError  the call ran past its overall deadline
    │   ├── ClientConnectionError      DNS failure, refused or dropped connection
    │   │   └── ResponseIncompleteError  a POST/PATCH was sent but its reply was lost: the
    │   │                              server may have applied it, so it is never re-sent blindly
    │   ├── UnexpectedResponseError    a reply the API never sends: a redirect, HTML, invalid JSON
    │   │   └── ResponseTooLargeError  a reply body above the configured maximum
    │   ├── CrossOriginError           a URL from a reply points at another origin (or carries
    │   │                              userinfo): the token is not sent there
    │   ├── PaginationError            a list walk that does not end: a cycle of ``next`` links,
    │   │                              more pages than announced, or past the page limit
    │   └── UploadFailedError          an upload did not complete
    │       ├── UploadInterruptedError a chunked upload gave up; ``upload_id``/``offset`` let a
    │       │                          later call (even in another process) resume it
    │       ├── UploadStepError        an upload workflow step could not run (alias UploadError)
    │       └── UploadCancelledError   the user cancelled it (alias UploadCancelled)
    ├── UnsafeArchiveError             an archive member would escape the target (also ValueError)
    │   └── ArchiveLimitError          an archive exceeds a size, ratio or member-count limit
    └── VideoTranscodeError            video probing or transcoding failed
        ├── UnsupportedFormatError     not a supported video format
        ├── FFmpegNotFoundError        ``ffmpeg``/``ffprobe`` is not installed
        └── TranscodingFailedError     ``ffmpeg``/``ffprobe`` exited with an error

Converter errors (``MaskError``, ``DMFormatError``) and write-back errors (``PushError``,
``PushConflictError``) derive from this root too; they live beside the code that raises them.

Messages name the HTTP method, the path and the server's message. They never contain a
token: the transport redacts every secret it knows before building one, in the message, the
parsed body and the reply headers.

Example:
    >>> from synapse_nb.exceptions import ClientError, NotFoundError
    >>> err = NotFoundError(404, {"detail": "Not found."}, method="GET", path="projects/9/")
    >>> isinstance(err, ClientError), err.status_code, err.detail
    (True, 404, {'detail': 'Not found.'})
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

__all__ = [
    "ArchiveLimitError",
    "AuthenticationError",
    "AuthorizationError",
    "ClientConnectionError",
    "ClientError",
    "ClientTimeoutError",
    "CrossOriginError",
    "DeadlineExceededError",
    "FFmpegNotFoundError",
    "InvalidInputError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseIncompleteError",
    "ResponseTooLargeError",
    "ServerError",
    "SynapseNBError",
    "TranscodingFailedError",
    "UnexpectedResponseError",
    "UnsafeArchiveError",
    "UnsupportedFormatError",
    "UploadCancelled",
    "UploadCancelledError",
    "UploadError",
    "UploadFailedError",
    "UploadInterruptedError",
    "UploadStepError",
    "ValidationError",
    "VideoTranscodeError",
    "error_class_for_status",
]


def _describe(response: Any, limit: int = 500) -> str:
    """Flatten a DRF-style error body into one readable line."""
    if response is None:
        return ""
    if isinstance(response, dict):
        parts = []
        for key, value in response.items():
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            parts.append(str(value) if key == "detail" else f"{key}: {value}")
        text = ", ".join(parts)
    elif isinstance(response, list):
        text = "; ".join(str(v) for v in response)
    else:
        text = str(response)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SynapseNBError(Exception):
    """Root of every error synapse_nb raises on purpose.

    Example:
        >>> from synapse_nb.exceptions import ClientError, SynapseNBError
        >>> issubclass(ClientError, SynapseNBError)
        True
    """


class ClientError(SynapseNBError):
    """Root of every error raised by a Synapse client.

    Args:
        status_code: HTTP status of the failed reply; ``None`` when no reply arrived.
        response: The parsed JSON error body, else its text, else the reason phrase.
        method: HTTP method of the failed request (for the message).
        path: Request path relative to the base URL (for the message; never a token).
        message: A ready-made message; built from the other fields when omitted.

    Example:
        >>> try:
        ...     raise ClientError(500, "boom", method="GET", path="jobs/")
        ... except ClientError as e:
        ...     (e.status_code, e.status, e.reason, str(e))
        (500, 500, 'boom', 'GET jobs/ failed (500): boom')
    """

    def __init__(
        self,
        status_code: int | None = None,
        response: Any = None,
        *,
        method: str | None = None,
        path: str | None = None,
        message: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.response = response
        self.method = method
        self.path = path
        if message is None:
            where = f"{method} {path} failed" if method and path else "request failed"
            code = f" ({status_code})" if status_code is not None else ""
            detail = _describe(response)
            message = f"{where}{code}: {detail}" if detail else f"{where}{code}"
        self.message = message
        #: Reply headers (redacted by the transport; names are looked up in any case, as
        #: servers and proxies send them in any case), empty when no reply arrived.
        self.headers: MutableMapping[str, str] = {}
        super().__init__(message)

    # Aliases: the Synapse SDK reads .status_code/.response, the RayClient docs .status,
    # older Synapse SDK code .status/.reason, newer code .detail. All name the same two facts.
    @property
    def status(self) -> int | None:
        """Alias of :attr:`status_code` (the Synapse SDK's RayClient, the 2025 Synapse SDK)."""
        return self.status_code

    @property
    def reason(self) -> Any:
        """Alias of :attr:`response` (the 2025 Synapse SDK)."""
        return self.response

    @property
    def detail(self) -> Any:
        """Alias of :attr:`response` (current Synapse SDK)."""
        return self.response

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep keyword-only fields when pickled (e.g. across a process pool).
        return (_rebuild, (type(self), self.__dict__.copy()))


def _rebuild(cls: type[ClientError], state: dict[str, Any]) -> ClientError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message"))
    err.__dict__.update(state)
    return err


class InvalidInputError(ClientError, ValueError):
    """A method argument is invalid; raised before any request is sent.

    ``response`` holds a DRF-style ``{field: [message]}`` dict and ``status_code`` is 400,
    so code that handles server-side validation errors handles this one too.

    Example:
        >>> err = InvalidInputError("pk", -1, "must be a positive integer", method="get_task")
        >>> str(err)
        'get_task: invalid pk=-1: must be a positive integer (nothing was sent)'
        >>> err = InvalidInputError("path", "/very" * 30 + "/long/scene.jpg", "no such file")
        >>> tail = "/long/scene.jpg': no such file (nothing was sent)"
        >>> len(err.message), "/v...ery/" in err.message, err.message.endswith(tail)
        (126, True, True)
    """

    def __init__(self, field: str, value: Any, problem: str, *, method: str | None = None) -> None:
        self.field = field
        self.value = value
        shown = repr(value)
        if len(shown) > 80:  # keep both ends: a path's file name is at its end
            shown = shown[:38] + "..." + shown[-39:]
        prefix = f"{method}: " if method else ""
        message = f"{prefix}invalid {field}={shown}: {problem} (nothing was sent)"
        super().__init__(400, {field: [problem]}, method=method, message=message)


class AuthenticationError(ClientError):
    """401: the token is missing, wrong or expired."""


class PermissionDeniedError(ClientError):
    """403: the caller is authenticated but may not do this."""


#: The current Synapse SDK's name of :class:`PermissionDeniedError`.
AuthorizationError = PermissionDeniedError


class NotFoundError(ClientError):
    """404: no such object (or past the last page)."""


class ValidationError(ClientError):
    """400/422: the server rejected the request body or parameters."""


class RateLimitError(ClientError):
    """429: too many requests, still refused after the transport's retries."""


class ServerError(ClientError):
    """5xx: the server failed, still failing after the transport's retries."""


class ClientTimeoutError(ClientError):
    """The server did not connect or answer in time (``status_code`` is 408)."""


class ClientConnectionError(ClientError):
    """No usable connection: DNS failure, refused, reset or dropped (``status_code`` None)."""


class ResponseIncompleteError(ClientConnectionError):
    """A non-idempotent request (POST/PATCH) left the client but its reply was lost.

    The server may already have applied it, so it is not retried automatically.
    """


class DeadlineExceededError(ClientTimeoutError):
    """The call ran past its overall deadline (``ResponseLimits.deadline``), retries included.

    Example:
        >>> str(DeadlineExceededError(408, "no reply within 5s", method="GET", path="jobs/"))
        'GET jobs/ failed (408): no reply within 5s'
    """


class UnexpectedResponseError(ClientError):
    """The server answered with something the API never sends for this call.

    A redirect (never followed: it could carry the token elsewhere), an HTML page, a body
    that is not valid JSON, or no body where one is required. ``status_code`` is the reply's
    status and ``content_type`` its ``Content-Type``.

    Example:
        >>> err = UnexpectedResponseError(200, "text/html", "an HTML page instead of JSON",
        ...                               method="GET", path="tasks/1/")
        >>> str(err)
        'GET tasks/1/ answered 200 with text/html: an HTML page instead of JSON'
    """

    def __init__(
        self,
        status_code: int | None,
        content_type: str,
        problem: str,
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.content_type = content_type
        where = f"{method} {path}" if method and path else "request"
        shown = content_type or "no content type"
        message = f"{where} answered {status_code} with {shown}: {problem}"
        super().__init__(status_code, problem, method=method, path=path, message=message)


class ResponseTooLargeError(UnexpectedResponseError):
    """A reply body is larger than ``ResponseLimits.max_json_bytes``; the rest was not read."""


class CrossOriginError(ClientError):
    """A URL taken from a reply points at another origin, so the token is not sent there.

    Origins are compared exactly (scheme, host and port); a URL with userinfo
    (``user@host``) is always refused.

    Example:
        >>> err = CrossOriginError("http://127.0.0.1:9/x/", "another port", method="GET")
        >>> err.url, err.response
        ('http://127.0.0.1:9/x/', 'another port')
    """

    def __init__(self, url: str, problem: str, *, method: str | None = None) -> None:
        self.url = url
        message = (
            f"{method or 'request'} refused {url}: {problem}; "
            "the token is only sent to base_url's origin"
        )
        super().__init__(None, problem, method=method, message=message)


class PaginationError(ClientError):
    """A paginated list does not end the way the API promises, so the walk stopped.

    Example:
        >>> str(PaginationError("next link points back to page 1", path="tasks/"))
        'list tasks/ stopped: next link points back to page 1'
    """

    def __init__(self, problem: str, *, path: str | None = None) -> None:
        message = f"list {path or ''} stopped: {problem}".replace("list  ", "list ")
        super().__init__(None, problem, method="GET", path=path, message=message)


class UploadFailedError(ClientError):
    """Root of every "the upload did not complete" error."""


class UploadInterruptedError(UploadFailedError):
    """A chunked upload stopped before completing; it can be resumed.

    Attributes:
        upload_id: Server id of the partial upload; pass it as ``upload_id=`` to
            ``create_chunked_upload`` to continue from the server's offset.
        offset: Bytes the server had confirmed when the upload gave up.

    Example:
        >>> err = UploadInterruptedError("abc", 1024, cause="server unreachable")
        >>> (err.upload_id, err.offset)
        ('abc', 1024)
    """

    def __init__(self, upload_id: Any, offset: int, *, cause: str, status_code: Any = None):
        self.upload_id = upload_id
        self.offset = offset
        if upload_id is None:
            message = f"chunked upload failed before the server stored anything: {cause}"
        else:
            message = (
                f"chunked upload {upload_id} interrupted at byte {offset}: {cause}; "
                f"resume with create_chunked_upload(..., upload_id={upload_id!r})"
            )
        super().__init__(status_code, cause, method="PUT", path="chunked_upload/", message=message)


class UploadStepError(UploadFailedError, RuntimeError):
    """A step of the upload workflow could not run (e.g. no file specifications).

    Example:
        >>> str(UploadStepError("step analyze_collection: no file specifications"))
        'step analyze_collection: no file specifications'
    """

    def __init__(self, message: str) -> None:
        super().__init__(None, message, message=message)


class UploadCancelledError(UploadFailedError):
    """The user cancelled an upload between two chunks; the partial upload stays resumable.

    Example:
        >>> str(UploadCancelledError("a.zip"))
        'a.zip'
    """

    def __init__(self, name: str) -> None:
        super().__init__(None, name, message=str(name))


#: Former names of the upload errors.
UploadError = UploadStepError
UploadCancelled = UploadCancelledError


class UnsafeArchiveError(SynapseNBError, ValueError):
    """An archive member would be written outside the extraction directory.

    Attributes:
        member: The offending member name as stored in the archive.
        reason: Why it was rejected.

    Example:
        >>> str(UnsafeArchiveError("../x", "contains '..'"))
        "unsafe archive member '../x': contains '..'; nothing was extracted"
    """

    def __init__(self, member: str, reason: str) -> None:
        self.member = member
        self.reason = reason
        super().__init__(f"unsafe archive member {member!r}: {reason}; nothing was extracted")


class ArchiveLimitError(UnsafeArchiveError):
    """An archive exceeds one of the extraction limits (``ArchiveLimits``).

    Attributes:
        limit: Name of the limit (``max_members``, ``max_total_size``, ``max_ratio``).

    Example:
        >>> err = ArchiveLimitError("max_members", "12 members, the limit is 10")
        >>> err.limit, str(err).split(";")[0]
        ('max_members', 'archive exceeds max_members: 12 members, the limit is 10')
    """

    def __init__(self, limit: str, detail: str) -> None:
        self.limit = limit
        self.member = ""
        self.reason = detail
        ValueError.__init__(self, f"archive exceeds {limit}: {detail}; nothing was extracted")


class VideoTranscodeError(SynapseNBError):
    """Base exception for video probing and transcoding."""


class UnsupportedFormatError(VideoTranscodeError):
    """The input file's extension is not a supported video format."""


class FFmpegNotFoundError(VideoTranscodeError):
    """``ffmpeg`` or ``ffprobe`` is not installed or not on ``PATH``."""


class TranscodingFailedError(VideoTranscodeError):
    """``ffmpeg``/``ffprobe`` exited with an error."""


_STATUS_CLASSES: dict[int, type[ClientError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    408: ClientTimeoutError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class_for_status(status_code: int) -> type[ClientError]:
    """Return the :class:`ClientError` subclass for an HTTP error status.

    Example:
        >>> error_class_for_status(404).__name__, error_class_for_status(502).__name__
        ('NotFoundError', 'ServerError')
    """
    if status_code in _STATUS_CLASSES:
        return _STATUS_CLASSES[status_code]
    if status_code >= 500:
        return ServerError
    return ClientError
