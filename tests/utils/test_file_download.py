"""download_file / adownload_file / files_url_to_path* against a real local HTTP server."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest

from synapse_nb.clients import BackendClient
from synapse_nb.exceptions import (
    ClientConnectionError,
    ClientError,
    InvalidInputError,
    NotFoundError,
)
from synapse_nb.frames import Client
from synapse_nb.utils.file import (
    adownload_file,
    afiles_url_to_path,
    afiles_url_to_path_from_objs,
    download_file,
    files_url_to_path,
    files_url_to_path_from_objs,
)


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def test_download_names_file_by_md5_of_url_without_query_and_keeps_extension(file_server, tmp_path):
    file_server.files["/media/cat.jpg"] = b"meow"
    url = file_server.url("/media/cat.jpg", "X-Amz-Signature=secret")

    path = download_file(url, tmp_path)

    assert path == tmp_path / (_md5(file_server.url("/media/cat.jpg")) + ".jpg")
    assert path.read_bytes() == b"meow"


def test_cached_download_is_not_fetched_again_even_with_another_signature(file_server, tmp_path):
    file_server.files["/a.png"] = b"png-bytes"
    first = download_file(file_server.url("/a.png", "sig=1"), tmp_path)
    second = download_file(file_server.url("/a.png", "sig=2"), tmp_path)

    assert first == second
    assert file_server.hits["/a.png"] == 1


def test_use_cached_false_and_custom_name_download_again(file_server, tmp_path):
    file_server.files["/a.txt"] = b"v1"
    cached = download_file(file_server.url("/a.txt"), tmp_path)
    file_server.files["/a.txt"] = b"v2"

    fresh = download_file(file_server.url("/a.txt"), tmp_path, use_cached=False)
    named = download_file(file_server.url("/a.txt"), tmp_path, name="mine", coerce=str)

    assert fresh == cached and fresh.read_bytes() == b"v2"
    assert named == str(tmp_path / "mine.txt")
    assert file_server.hits["/a.txt"] == 3


def test_http_error_leaves_no_file_and_hides_the_query_string(file_server, tmp_path):
    url = file_server.url("/missing.jpg", "token=SECRET123")
    with pytest.raises(NotFoundError) as info:
        download_file(url, tmp_path)

    assert "404" in str(info.value)
    assert "SECRET123" not in str(info.value)
    assert info.value.status_code == 404
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temp file


def test_interrupted_download_keeps_the_previous_file_and_leaves_no_partial(file_server, tmp_path):
    file_server.files["/big.bin"] = b"old" * 1000
    path = download_file(file_server.url("/big.bin"), tmp_path)
    file_server.files["/big.bin"] = b"new" * 100_000
    file_server.truncate["/big.bin"] = 1000

    with pytest.raises(ClientConnectionError) as info:
        download_file(file_server.url("/big.bin", "sig=SECRET"), tmp_path, use_cached=False)

    assert "SECRET" not in str(info.value)
    assert path.read_bytes() == b"old" * 1000  # the cached copy was not clobbered
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no .part file left


def test_transient_503_is_retried(file_server, tmp_path):
    file_server.files["/flaky.bin"] = b"ok"
    file_server.fail_first["/flaky.bin"] = 2

    path = download_file(file_server.url("/flaky.bin"), tmp_path)

    assert path.read_bytes() == b"ok"
    assert file_server.hits["/flaky.bin"] == 3


def test_connection_error_names_the_url_without_secrets(tmp_path):
    with pytest.raises(ClientConnectionError) as info:
        download_file("http://127.0.0.1:9/x.jpg?sig=SECRET", tmp_path)  # port 9: discard
    assert "127.0.0.1:9/x.jpg" in str(info.value)
    assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "name", "error"),
    [
        ("ftp://host/a.jpg", None, ValueError),
        ("/relative/path.jpg", None, ValueError),
        (123, None, TypeError),
        ("http://127.0.0.1/a.jpg", "../escape", ValueError),
    ],
)
def test_bad_arguments_are_rejected_before_any_request(tmp_path, url, name, error):
    with pytest.raises(error):
        download_file(url, tmp_path, name=name)
    assert list(tmp_path.iterdir()) == []


def test_files_url_to_path_replaces_strings_and_url_mappings(file_server, temp_root):
    file_server.files["/a.jpg"] = b"A"
    file_server.files["/b.pcd"] = b"B"
    files = {
        "image_1": file_server.url("/a.jpg"),
        "pcd_1": {"url": file_server.url("/b.pcd", "sig=x"), "size": 1},
    }

    files_url_to_path(files)

    assert files["image_1"].read_bytes() == b"A"
    assert files["image_1"].parent == temp_root / "media"
    assert files["pcd_1"]["path"].read_bytes() == b"B"
    assert "url" not in files["pcd_1"] and files["pcd_1"]["size"] == 1

    files_url_to_path(files)  # already local: a second call is a no-op
    assert file_server.hits["/a.jpg"] == 1


def test_files_url_to_path_only_the_given_field(file_server, temp_root):
    file_server.files["/a.jpg"] = b"A"
    files = {"image_1": file_server.url("/a.jpg"), "image_2": file_server.url("/b.jpg")}

    files_url_to_path(files, coerce=str, file_field="image_1")

    assert files["image_1"] == str(temp_root / "media" / (_md5(file_server.url("/a.jpg")) + ".jpg"))
    assert files["image_2"] == file_server.url("/b.jpg")


def test_files_url_to_path_failure_leaves_mapping_untouched(file_server, temp_root):
    file_server.files["/ok.jpg"] = b"A"
    files = {"ok": file_server.url("/ok.jpg"), "bad": file_server.url("/nope.jpg")}
    before = dict(files)

    with pytest.raises(NotFoundError):
        files_url_to_path(files)
    assert files == before


def test_files_url_to_path_rejects_bad_values():
    with pytest.raises(TypeError, match="image_1"):
        files_url_to_path({"image_1": 42})
    with pytest.raises(ValueError, match="http"):
        files_url_to_path({"image_1": "not a url"})


def test_downloads_run_concurrently_and_shared_urls_are_fetched_once(file_server, temp_root):
    n = 8
    for i in range(n):
        file_server.files[f"/f{i}.jpg"] = bytes([i]) * 100
    file_server.delay = 0.3
    objs = [
        {"id": i, "data_unit": {"files": {"image_1": {"url": file_server.url(f"/f{i}.jpg")}}}}
        for i in range(n)
    ]
    objs.append({"id": "dup", "data_unit": {"files": {"image_1": file_server.url("/f0.jpg")}}})
    objs.append({"id": "no-files"})

    files_url_to_path_from_objs(objs, ["data_unit.files"], is_list=True)

    assert file_server.max_active > 1  # the server saw downloads in flight together
    assert file_server.hits["/f0.jpg"] == 1
    for i in range(n):
        assert objs[i]["data_unit"]["files"]["image_1"]["path"].read_bytes() == bytes([i]) * 100
    assert (
        objs[n]["data_unit"]["files"]["image_1"] == objs[0]["data_unit"]["files"]["image_1"]["path"]
    )


def test_from_objs_single_object_and_url_field(file_server, temp_root):
    file_server.files["/x.json"] = b"{}"
    obj = {"meta": {"thumbnail": file_server.url("/x.json")}}

    files_url_to_path_from_objs(obj, ["meta.thumbnail", "absent.field"], is_async=True)

    assert Path(obj["meta"]["thumbnail"]).read_bytes() == b"{}"


def test_async_variants_download_concurrently(file_server, tmp_path, temp_root):
    for i in range(6):
        file_server.files[f"/v{i}.mp4"] = b"v" * i
    file_server.delay = 0.3

    async def main():
        paths = await asyncio.gather(
            *(adownload_file(file_server.url(f"/v{i}.mp4"), tmp_path) for i in range(6))
        )
        files = {"video_1": file_server.url("/v1.mp4")}
        await afiles_url_to_path(files, coerce=str)
        objs = [{"files": {"video_1": {"url": file_server.url("/v2.mp4", "s=1")}}}]
        await afiles_url_to_path_from_objs(objs, ["files"], is_list=True)
        return paths, files, objs

    start = time.perf_counter()
    paths, files, objs = asyncio.run(main())
    elapsed = time.perf_counter() - start

    assert [p.read_bytes() for p in paths] == [b"v" * i for i in range(6)]
    assert elapsed < 6 * 0.3 / 2 + 0.6 + 0.5, f"async downloads look sequential: {elapsed:.2f}s"
    assert file_server.max_active > 1
    assert Path(files["video_1"]).read_bytes() == b"v"
    assert objs[0]["files"]["video_1"]["path"].read_bytes() == b"vv"


def test_every_download_failure_is_a_client_error(file_server, tmp_path):
    # One HTTP seam: "except ClientError" is enough around the file utilities too.
    file_server.files["/big.bin"] = b"x" * 100_000
    file_server.truncate["/big.bin"] = 10
    failures = [
        lambda: download_file(file_server.url("/missing.jpg"), tmp_path),
        lambda: download_file(file_server.url("/big.bin"), tmp_path),
        lambda: download_file("http://127.0.0.1:9/x.jpg", tmp_path),
        lambda: files_url_to_path([file_server.url("/missing.png")], tmp_path),
    ]
    for call in failures:
        with pytest.raises(ClientError):
            call()


def test_files_url_to_path_list_form_downloads_into_the_directory(file_server, tmp_path):
    file_server.files["/a.jpg"] = b"A"
    file_server.files["/b.png"] = b"B"
    a, b = file_server.url("/a.jpg", "sig=1"), file_server.url("/b.png")
    urls = [a, b, file_server.url("/a.jpg")]

    paths = files_url_to_path(urls, tmp_path / "dest")

    assert [p.parent for p in paths] == [tmp_path / "dest"] * 3
    assert [p.read_bytes() for p in paths] == [b"A", b"B", b"A"]
    assert paths[0] == paths[2] and file_server.hits["/a.jpg"] == 1
    assert paths[1].suffix == ".png"
    with pytest.raises(TypeError, match="directory"):
        files_url_to_path(urls, str.upper)


def test_the_client_and_the_file_utilities_share_one_cache(file_server, tmp_path):
    from synapse_nb.clients._url_conversion import MediaCache

    file_server.files["/shared.jpg"] = b"S"
    url = file_server.url("/shared.jpg", "sig=1")
    path = download_file(url, tmp_path)
    assert MediaCache(tmp_path, None).path_for(file_server.url("/shared.jpg", "sig=2")) == path


@pytest.mark.parametrize("kind", [BackendClient, Client])
@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (None, None),
        (7, 7),
        ("not a url", "not a url"),
        ("ftp://host/a.jpg?sig=SECRET", "ftp://host/a.jpg"),  # the query may hold a signature
        ("http://", "http://"),
        ("http://[::1/a.jpg", "http://[::1/a.jpg"),  # urlsplit itself refuses it
    ],
)
def test_media_path_names_a_bad_url_before_any_request(file_server, tmp_path, kind, url, shown):
    cache = tmp_path / "cache"
    with (
        kind(file_server.base_url, cache_dir=cache) as client,
        pytest.raises(InvalidInputError) as caught,
    ):
        client.media_path(url)
    assert caught.value.field == "url" and caught.value.value == shown
    assert "invalid url=" in str(caught.value) and "SECRET" not in str(caught.value)
    assert not file_server.hits and not cache.exists()
