"""archive/unarchive round trips and zip-slip rejection with hand-built malicious archives."""

from __future__ import annotations

import os
import stat
import warnings
import zipfile
from pathlib import Path

import pytest

from synapse_nb.utils.file import UnsafeArchiveError, archive, unarchive
from synapse_nb.utils.file.archive import ArchiveLimitError, ArchiveLimits


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


def test_unarchive_without_links_refuses_even_a_safe_symlink_and_writes_nothing(tmp_path):
    zip_path = _zip_with(
        tmp_path / "ok.zip", [("data/real.txt", b"content")], links={"data/alias.txt": "real.txt"}
    )
    with pytest.raises(UnsafeArchiveError, match="links are not allowed"):
        unarchive(zip_path, tmp_path / "t", links=False)
    assert not (tmp_path / "t").exists()


def test_unarchive_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        unarchive(tmp_path / "none.zip", tmp_path / "t")
    bogus = tmp_path / "bogus.zip"
    bogus.write_text("not a zip")
    with pytest.raises(zipfile.BadZipFile):
        unarchive(bogus, tmp_path / "t")


# ----------------------------------------------------------------------------- hardening
def test_unarchive_refuses_a_chain_of_links_that_climbs_out_together(tmp_path):
    # Each link is inside as text (sub/l -> .. is the root; up -> sub/l/.. is sub), but on
    # disk "up" resolves through sub/l (the root) and then "..": the target's parent.
    zip_path = _zip_with(
        tmp_path / "chain.zip", [("a.txt", b"a")], links={"sub/l": "..", "up": "sub/l/.."}
    )
    target = tmp_path / "t"
    with pytest.raises(UnsafeArchiveError, match="up") as info:
        unarchive(zip_path, target)
    assert "leaves the target" in str(info.value)
    assert not target.exists()


def test_unarchive_refuses_a_link_through_a_symlink_already_in_the_target(tmp_path):
    target = tmp_path / "t"
    target.mkdir()
    (target / "parent").symlink_to("..")  # already there, harmless by itself
    zip_path = _zip_with(tmp_path / "via.zip", [("a.txt", b"a")], links={"esc": "parent"})
    with pytest.raises(UnsafeArchiveError, match="esc"):
        unarchive(zip_path, target)
    assert sorted(p.name for p in target.iterdir()) == ["parent"]


def test_unarchive_refuses_a_duplicate_member_before_writing_anything(tmp_path):
    zip_path = tmp_path / "dup.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("good.txt", b"fine")
        for attempt in range(2):
            info = zipfile.ZipInfo("link")
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            with warnings.catch_warnings():
                warnings.simplefilter("ignore" if attempt else "error")
                zf.writestr(info, "good.txt")
    target = tmp_path / "t"
    with pytest.raises(UnsafeArchiveError, match="appears twice"):
        unarchive(zip_path, target)
    assert not target.exists()


def test_unarchive_refuses_a_zip_bomb_by_ratio(tmp_path):
    zip_path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(64 * 1024 * 1024))
    assert zip_path.stat().st_size < 1024 * 1024
    target = tmp_path / "t"
    with pytest.raises(ArchiveLimitError, match="max_ratio") as info:
        unarchive(zip_path, target)
    assert info.value.limit == "max_ratio"
    assert not target.exists() and list(tmp_path.iterdir()) == [zip_path]


def test_unarchive_limits_are_configurable_and_named(tmp_path):
    zip_path = _zip_with(tmp_path / "many.zip", [(f"f{i}.txt", b"x" * 100) for i in range(6)])
    with pytest.raises(ArchiveLimitError, match="max_members: 6 members, the limit is 5"):
        unarchive(zip_path, tmp_path / "a", limits=ArchiveLimits(max_members=5))
    with pytest.raises(ArchiveLimitError, match="max_total_size") as info:
        unarchive(zip_path, tmp_path / "b", limits=ArchiveLimits(max_total_size=500))
    assert info.value.limit == "max_total_size"
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    out = unarchive(zip_path, tmp_path / "c", limits=ArchiveLimits(max_members=6))
    assert len(list(out.iterdir())) == 6
    with pytest.raises(ValueError, match="max_ratio"):
        ArchiveLimits(max_ratio=0)


def _tar_with(path: Path, members: list[tuple[str, bytes]], **special: str) -> Path:
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in special.items():
            kind, _, link = target.partition(":")
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE if kind == "sym" else tarfile.LNKTYPE
            info.linkname = link
            tf.addfile(info)
    return path


def test_tar_archives_round_trip_with_safe_links(tmp_path):
    tar_path = _tar_with(
        tmp_path / "ok.tar.gz", [("d/real.txt", b"content")], **{"d/alias.txt": "sym:real.txt"}
    )
    out = unarchive(tar_path, tmp_path / "t")
    assert (out / "d" / "real.txt").read_bytes() == b"content"
    assert (out / "d" / "alias.txt").is_symlink()
    assert (out / "d" / "alias.txt").read_bytes() == b"content"


@pytest.mark.parametrize(
    ("members", "special", "problem"),
    [
        ([("../evil.txt", b"x")], {}, "contains '..'"),
        ([("ok.txt", b"x")], {"esc": "sym:../../etc"}, "leaves the target"),
        ([("ok.txt", b"x")], {"hard": "hard:/etc/passwd"}, "hard link"),
    ],
    ids=["traversal", "symlink-escape", "hard-link"],
)
def test_tar_archives_get_the_same_checks(tmp_path, members, special, problem):
    tar_path = _tar_with(tmp_path / "evil.tar.gz", members, **special)
    target = tmp_path / "t"
    with pytest.raises(UnsafeArchiveError, match=problem):
        unarchive(tar_path, target)
    assert not target.exists()


def test_unarchive_into_an_existing_directory_merges_and_replaces(tmp_path):
    target = tmp_path / "t"
    (target / "keep").mkdir(parents=True)
    (target / "keep" / "old.txt").write_text("old")
    (target / "a.txt").write_text("before")
    zip_path = _zip_with(tmp_path / "m.zip", [("a.txt", b"after"), ("keep/new.txt", b"new")])
    unarchive(zip_path, target)
    assert (target / "a.txt").read_text() == "after"
    assert sorted(p.name for p in (target / "keep").iterdir()) == ["new.txt", "old.txt"]
    assert [p.name for p in tmp_path.iterdir() if "unarchive" in p.name] == []
