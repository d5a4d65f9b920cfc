"""nep_core.appzip: reproducible, atomically written zips of app clients; nep_core.cli.subapp: domain tool apps."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nep_core.appzip import ZIP_DATE, write_zip
from nep_core.cli.subapp import tools_app


def test_the_zip_is_reproducible_in_order_with_fixed_dates_and_modes(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("A = 1\n")
    (tmp_path / "b.toml").write_text("id = 'x'\n")
    files = [("b.toml", tmp_path / "b.toml"), ("pkg/a.py", tmp_path / "a.py"), ("pkg/sub/c.py", tmp_path / "a.py")]
    (tmp_path / "out").mkdir()
    first = write_zip(tmp_path / "out" / "x.zip", files)
    second = write_zip(tmp_path / "y.zip", files)
    assert first == tmp_path / "out" / "x.zip" and first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        assert archive.namelist() == ["b.toml", "pkg/", "pkg/a.py", "pkg/sub/", "pkg/sub/c.py"]  # each folder once, before its files
        files_in_zip = [info for info in archive.infolist() if not info.is_dir()]
        folders_in_zip = [info for info in archive.infolist() if info.is_dir()]
        assert all(info.date_time == ZIP_DATE and info.external_attr == 0o644 << 16 and info.compress_type == zipfile.ZIP_DEFLATED
                   for info in files_in_zip)
        assert all(info.date_time == ZIP_DATE and info.external_attr >> 16 == 0o40755 and info.file_size == 0 for info in folders_in_zip)
        assert archive.read("pkg/a.py") == b"A = 1\n"


def test_a_failed_write_keeps_the_old_zip_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("A = 1\n")
    path = write_zip(tmp_path / "x.zip", [("a.py", tmp_path / "a.py")])
    before = path.read_bytes()
    with pytest.raises(FileNotFoundError):
        write_zip(path, [("a.py", tmp_path / "a.py"), ("gone.py", tmp_path / "gone.py")])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "x.zip"]


def test_a_tools_app_shows_help_with_no_command_and_takes_h() -> None:
    app = tools_app("demo", "Demo tools.")

    @app.command("hello")
    def hello() -> None:
        """Say hello."""
        print("hello")

    @app.command("bye")
    def bye() -> None:
        """Say bye."""

    runner = CliRunner()
    assert "Demo tools." in runner.invoke(app, ["-h"]).output
    result = runner.invoke(app, [])
    assert "hello" in result.output and "bye" in result.output
    assert runner.invoke(app, ["hello"]).output == "hello\n"
