"""Outputs are written whole or not at all, and the temporary file cannot be redirected."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from nep_core.atomic_files import atomic_path, write_text_atomic


def test_a_link_planted_under_a_guessable_temporary_name_is_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    target = tmp_path / "out.txt"
    guessable = tmp_path / f".out.{os.getpid()}.tmp.txt"
    guessable.symlink_to(victim)  # the name used before 2026-12-07, which was followed
    write_text_atomic(target, "new\n")
    assert victim.read_text() == "keep me\n"
    assert target.read_text() == "new\n" and not target.is_symlink()
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["victim.txt", "out.txt", guessable.name])


def test_the_temporary_file_is_new_in_a_private_folder_so_writers_that_refuse_an_existing_file_work(tmp_path):
    with atomic_path(tmp_path / "cut.otioz") as temporary:
        assert not temporary.exists() and temporary.name == "cut.otioz"
        assert temporary.parent.parent == tmp_path and temporary.parent.name.startswith(".cut.")
        assert temporary.parent.stat().st_mode & 0o077 == 0  # only this user can reach it
        with open(temporary, "x") as handle:  # OTIO's .otioz writer refuses a path that exists
            handle.write("whole")
    assert (tmp_path / "cut.otioz").read_text() == "whole"
    assert [path.name for path in tmp_path.iterdir()] == ["cut.otioz"]


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
            assert temporary.suffix == ".png" and temporary.parent.parent == tmp_path
            temporary.write_bytes(b"half")
            raise RuntimeError("the writer failed")
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["plot.png"]


def test_a_link_is_followed_and_stays_a_link(tmp_path):
    """--json pointed at a link replaced the link with a plain file."""
    target = tmp_path / "kept" / "eval.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "eval.json"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"


def test_a_pipe_and_a_process_descriptor_are_written_through(tmp_path):
    """`--json /dev/stdout` (as root) replaced /dev/stdout, a link, with a plain file."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    write_text_atomic(fifo, "through the pipe")
    reader.join(10)
    assert received == ["through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)

    redirected = tmp_path / "out.txt"  # what `> out.txt` gives the process as its descriptor
    with open(redirected, "w") as handle:
        handle.write("before\n")
        handle.flush()
        write_text_atomic(f"/proc/self/fd/{handle.fileno()}", "written\n")
        handle.write("after\n")
    assert redirected.read_text() == "before\nwritten\nafter\n"
