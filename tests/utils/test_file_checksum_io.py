"""Checksums, chunked reading, base64 encoding, JSON/YAML loading and the temp path."""

from __future__ import annotations

import base64
import hashlib
import io

import pytest

from synapse_nb.utils.file import (
    DEFAULT_CHUNK_SIZE,
    calculate_checksum,
    convert_file_to_base64,
    get_checksum_from_file,
    get_dict_from_file,
    get_temp_path,
    read_file_in_chunks,
)

PAYLOAD = b"Hello, world!" * 1000  # several 4 KiB blocks


def test_calculate_checksum_is_md5_with_optional_prefix(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(PAYLOAD)
    expected = hashlib.md5(PAYLOAD).hexdigest()

    assert calculate_checksum(f) == expected
    assert calculate_checksum(str(f), prefix="dev-") == f"dev-{expected}"
    with pytest.raises(FileNotFoundError):
        calculate_checksum(tmp_path / "missing")
    with pytest.raises(TypeError, match="prefix"):
        calculate_checksum(f, prefix=1)


def test_get_checksum_from_file_defaults_to_sha1_and_takes_digest_mod():
    data = io.BytesIO(b"Hello, world!")
    assert get_checksum_from_file(data) == "943a702d06f34599aee1f8da8ef9f7296031d699"
    assert (
        get_checksum_from_file(data, digest_mod=hashlib.sha256)
        == hashlib.sha256(b"Hello, world!").hexdigest()
    )


def test_get_checksum_from_file_text_equals_binary_and_rewinds():
    binary = io.BytesIO("héllo wörld".encode())
    text = io.StringIO("héllo wörld")
    binary.read(3)  # a half-read object is still hashed whole

    digest = get_checksum_from_file(binary, digest_mod=hashlib.md5)

    assert digest == get_checksum_from_file(text, digest_mod=hashlib.md5)
    assert digest == hashlib.md5("héllo wörld".encode()).hexdigest()
    assert binary.tell() == 0  # rewound afterwards, ready for an upload


def test_get_checksum_from_real_and_unseekable_files(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(PAYLOAD)
    with f.open("rb") as handle:
        assert get_checksum_from_file(handle) == hashlib.sha1(PAYLOAD).hexdigest()

    class Pipe(io.RawIOBase):
        def __init__(self):
            self._data = io.BytesIO(PAYLOAD)

        def readable(self):
            return True

        def seekable(self):
            return False

        def read(self, n=-1):
            return self._data.read(n)

    assert get_checksum_from_file(Pipe()) == hashlib.sha1(PAYLOAD).hexdigest()
    with pytest.raises(TypeError, match="read"):
        get_checksum_from_file(b"bytes are not a file")


def test_read_file_in_chunks(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(PAYLOAD)

    chunks = list(read_file_in_chunks(f, chunk_size=4096))

    assert DEFAULT_CHUNK_SIZE == 50 * 1024 * 1024
    assert b"".join(chunks) == PAYLOAD
    assert [len(c) for c in chunks[:-1]] == [4096] * (len(chunks) - 1)
    assert len(list(read_file_in_chunks(f))) == 1
    (tmp_path / "empty").write_bytes(b"")
    assert list(read_file_in_chunks(tmp_path / "empty")) == []


@pytest.mark.parametrize("size", [0, -1, 1.5, True, "10"])
def test_read_file_in_chunks_rejects_bad_chunk_size_at_call(tmp_path, size):
    f = tmp_path / "f.bin"
    f.write_bytes(b"x")
    with pytest.raises(ValueError, match="chunk_size"):
        read_file_in_chunks(f, chunk_size=size)


def test_read_file_in_chunks_missing_file_fails_at_call(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_file_in_chunks(tmp_path / "missing")


def test_convert_file_to_base64(tmp_path):
    png = tmp_path / "pixel.png"
    png.write_bytes(b"\x89PNG fake")
    uri = convert_file_to_base64(png)

    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == b"\x89PNG fake"
    assert convert_file_to_base64(uri) == uri  # already encoded: passed through
    (tmp_path / "blob.unknownext").write_bytes(b"x")
    with pytest.raises(ValueError, match="unknownext"):
        convert_file_to_base64(tmp_path / "blob.unknownext")
    with pytest.raises(FileNotFoundError):
        convert_file_to_base64(tmp_path / "missing.png")


def test_get_dict_from_file_json_and_yaml(tmp_path):
    (tmp_path / "c.json").write_text('{"name": "x", "n": 1}')
    (tmp_path / "c.yaml").write_text("name: x\nlist: [1, 2]\n")
    (tmp_path / "c.yml").write_text("a: {b: true}\n")

    assert get_dict_from_file(tmp_path / "c.json") == {"name": "x", "n": 1}
    assert get_dict_from_file(str(tmp_path / "c.yaml")) == {"name": "x", "list": [1, 2]}
    assert get_dict_from_file(tmp_path / "c.yml") == {"a": {"b": True}}


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("c.toml", "a = 1", "extension"),
        ("c.json", "{not json", "could not parse"),
        ("c.yaml", "a: [unclosed", "could not parse"),
        ("c.yaml", "- just\n- a list\n", "mapping"),
        ("c.yaml", "!!python/object/apply:os.system ['echo hi']", "could not parse"),
    ],
)
def test_get_dict_from_file_errors(tmp_path, name, content, match):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValueError, match=match):
        get_dict_from_file(tmp_path / name)


def test_get_temp_path(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNAPSE_NB_TEMP_DIR", raising=False)
    assert get_temp_path().name == "datamaker"
    monkeypatch.setenv("SYNAPSE_NB_TEMP_DIR", str(tmp_path))
    assert get_temp_path() == tmp_path
    assert get_temp_path("subdir/file.tmp") == tmp_path / "subdir" / "file.tmp"
    for bad in ("../escape", "/etc/passwd", "a/../../b", ""):
        with pytest.raises(ValueError, match="sub_path"):
            get_temp_path(bad)
