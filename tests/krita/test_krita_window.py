"""The virtual display the Krita window tests start Krita in is one no X server holds."""

from __future__ import annotations

import socket
from pathlib import Path

from krita_window import free_display


def test_a_display_whose_socket_is_held_without_a_lock_file_is_not_chosen():
    # an X server in a chroot with its own /tmp, or one whose lock file was removed, holds only its
    # abstract socket: xvfb-run -a would pick its number and Krita would fail to connect
    first = free_display()
    assert not Path(f"/tmp/.X{first}-lock").exists()
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.bind(f"\0/tmp/.X11-unix/X{first}")
    holder.listen()
    try:
        assert free_display(first, first + 5) != first
        assert free_display(first, first + 5) in range(first + 1, first + 6)
    finally:
        holder.close()
    assert free_display(first, first) == first


def test_a_display_with_a_lock_file_or_a_socket_file_is_not_chosen(tmp_path):
    first = free_display(tmp=tmp_path)
    (tmp_path / f".X{first}-lock").write_text(f"{'1':>10}\n")
    assert free_display(first, first + 5, tmp=tmp_path) != first
    (tmp_path / ".X11-unix").mkdir()
    (tmp_path / ".X11-unix" / f"X{first + 1}").write_text("")
    assert free_display(first, first + 5, tmp=tmp_path) not in (first, first + 1)


def test_a_display_tried_before_is_not_chosen_again():
    first = free_display()
    assert all(free_display(avoid={first}) != first for _ in range(20))
