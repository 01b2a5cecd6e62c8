"""archive/unarchive round trips and zip-slip rejection with hand-built malicious archives."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from synapse_nb.utils.file import UnsafeArchiveError, archive, unarchive


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_directory_round_trip_keeps_top_folder_and_nesting(tmp_path):
    src = tmp_path / "plugin"
    (src / "pkg" / "sub").mkdir(parents=True)
    (src / "config.yaml").write_text("name: x\n")
    (src / "pkg" / "sub" / "data.bin").write_bytes(bytes(range(256)))
    (src / "empty").mkdir()

    zip_path = archive(src, tmp_path / "out" / "plugin.zip")
    out = unarchive(zip_path, tmp_path / "extract")

    assert zipfile.ZipFile(zip_path).namelist() == ["plugin/config.yaml", "plugin/pkg/sub/data.bin"]
    assert _tree(out / "plugin") == _tree(src)


def test_single_file_and_append(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("A")
    b.write_text("B")
    zip_path = tmp_path / "x.zip"

    archive(a, zip_path)
    archive(b, zip_path, append=True)
    assert sorted(zipfile.ZipFile(zip_path).namelist()) == ["a.txt", "b.txt"]

    archive(b, zip_path)  # without append the archive is replaced
    assert zipfile.ZipFile(zip_path).namelist() == ["b.txt"]
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_archive_into_the_source_directory_does_not_include_itself(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f.txt").write_text("f")
    archive(src, src / "self.zip")
    archive(src, src / "self.zip")  # second run: the existing zip is not archived either
    assert zipfile.ZipFile(src / "self.zip").namelist() == ["src/f.txt"]


def test_archive_refuses_symlink_pointing_outside_and_writes_nothing(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not ship")
    src = tmp_path / "src"
    src.mkdir()
    (src / "ok.txt").write_text("ok")
    (src / "inner_link.txt").symlink_to(src / "ok.txt")
    (src / "leak.txt").symlink_to(secret)

    with pytest.raises(ValueError, match=r"leak\.txt"):
        archive(src, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()

    (src / "leak.txt").unlink()
    archive(src, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.read("src/inner_link.txt") == b"ok"  # inside links are stored as content


def test_archive_missing_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        archive(tmp_path / "nope", tmp_path / "x.zip")


def _zip_with(path: Path, members: list[tuple[str, bytes]], links: dict[str, str] | None = None):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name), data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3  # unix, so external_attr carries the file type
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


@pytest.mark.parametrize(
    "evil_name",
    ["../evil.txt", "a/../../evil.txt", "/tmp/evil.txt", "..\\evil.txt", "C:/evil.txt", "a/.."],
)
def test_unarchive_rejects_traversal_and_writes_nothing(tmp_path, evil_name):
    zip_path = _zip_with(tmp_path / "evil.zip", [("good.txt", b"fine"), (evil_name, b"pwned")])
    target = tmp_path / "target" / "inner"

    with pytest.raises(UnsafeArchiveError) as info:
        unarchive(zip_path, target)

    assert info.value.member == evil_name
    assert repr(evil_name) in str(info.value)
    assert not target.exists()  # the safe member was not written either
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "target" / "evil.txt").exists()


@pytest.mark.parametrize("link_target", ["/etc", "../../outside", "sub/../../.."])
def test_unarchive_rejects_symlink_members_escaping_the_target(tmp_path, link_target):
    zip_path = _zip_with(tmp_path / "links.zip", [("a.txt", b"a")], links={"sub/link": link_target})
    with pytest.raises(UnsafeArchiveError, match="sub/link"):
        unarchive(zip_path, tmp_path / "t")
    assert not (tmp_path / "t").exists()


def test_unarchive_rejects_writing_through_a_symlink_member(tmp_path):
    zip_path = _zip_with(
        tmp_path / "through.zip", [("link/payload.txt", b"x")], links={"link": "real"}
    )
    with pytest.raises(UnsafeArchiveError, match="through a symlink"):
        unarchive(zip_path, tmp_path / "t")


def test_unarchive_rejects_member_below_an_existing_symlink_to_elsewhere(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "t"
    target.mkdir()
    (target / "escape").symlink_to(outside)
    zip_path = _zip_with(tmp_path / "e.zip", [("escape/payload.txt", b"x")])

    with pytest.raises(UnsafeArchiveError, match="outside the target"):
        unarchive(zip_path, target)
    assert list(outside.iterdir()) == []


def test_unarchive_recreates_safe_symlink_members(tmp_path):
    zip_path = _zip_with(
        tmp_path / "ok.zip", [("data/real.txt", b"content")], links={"data/alias.txt": "real.txt"}
    )
    out = unarchive(zip_path, tmp_path / "t")
    alias = out / "data" / "alias.txt"
    assert alias.is_symlink() and os.readlink(alias) == "real.txt"
    assert alias.read_bytes() == b"content"


def test_unarchive_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        unarchive(tmp_path / "none.zip", tmp_path / "t")
    bogus = tmp_path / "bogus.zip"
    bogus.write_text("not a zip")
    with pytest.raises(zipfile.BadZipFile):
        unarchive(bogus, tmp_path / "t")
