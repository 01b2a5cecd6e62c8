"""Base64 data-URI encoding of files."""

from __future__ import annotations

import base64
import mimetypes
from os import PathLike
from pathlib import Path

__all__ = ["convert_file_to_base64"]


def convert_file_to_base64(file_path: str | PathLike[str]) -> str:
    """Encode a file as a ``data:<mime>;base64,...`` URI.

    A string that already is a data URI is returned unchanged, because callers sometimes
    pass through values that were encoded earlier (the Synapse SDK does the same).

    Args:
        file_path: Path of the file; its MIME type is guessed from the extension.

    Returns:
        The data URI.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If no MIME type is known for the file's extension.

    Example:
        >>> from PIL import Image
        >>> Image.new("RGB", (2, 2), (255, 0, 0)).save("image.png")
        >>> uri = convert_file_to_base64("image.png")
        >>> uri.startswith("data:image/png;base64,")
        True
    """
    if isinstance(file_path, str) and file_path.startswith("data:"):
        return file_path
    path = Path(file_path)
    mime_type, _ = mimetypes.guess_type(path.name)
    if mime_type is None:
        raise ValueError(
            f"cannot guess a MIME type for file_path {str(path)!r} "
            f"(extension {path.suffix or 'none'!r})"
        )
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:{mime_type};base64,{encoded}"
