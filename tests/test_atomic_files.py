"""Outputs are written whole or not at all, and the temporary file cannot be redirected."""

from __future__ import annotations

import os

import pytest

from nep_core import atomic_files
from nep_core.atomic_files import atomic_path, write_text_atomic


def test_a_link_planted_under_the_temporary_name_is_not_followed(tmp_path, monkeypatch):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    target = tmp_path / "out.txt"
    names = iter(["aaaaaaaa", "bbbbbbbb"])
    monkeypatch.setattr(atomic_files.secrets, "token_hex", lambda size: next(names))
    planted = tmp_path / f".out.{os.getpid()}.aaaaaaaa.tmp.txt"
    planted.symlink_to(victim)  # another user guessed the first name
    guessable = tmp_path / f".out.{os.getpid()}.tmp.txt"
    guessable.symlink_to(victim)  # the name used before 2026-12-07, which was followed
    write_text_atomic(target, "new\n")
    assert victim.read_text() == "keep me\n"
    assert target.read_text() == "new\n" and not target.is_symlink()
    assert planted.is_symlink()  # left alone; the write went to the second name
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["victim.txt", "out.txt", planted.name, guessable.name])


def test_the_written_file_gets_the_permissions_the_umask_gives_new_files(tmp_path):
    old = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "a.json", "{}\n")
    finally:
        os.umask(old)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o640


def test_a_failed_write_leaves_the_older_file_and_no_temporary(tmp_path):
    target = tmp_path / "plot.png"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            assert temporary.suffix == ".png" and temporary.parent == tmp_path
            temporary.write_bytes(b"half")
            raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["plot.png"]
