"""Checks every app-log collector (``nep_core.app_logs.AppLogCollector``) must pass, whatever its domain."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from nep_core.collector import CollectReport
from nep_core.errors import NepError
from nep_core.sessionlog import SessionLogWriter


def check_other_domains_empty_logs_and_missing_folders(
    collect: Callable[[str], tuple[list, CollectReport]], tmp_path: Path, monkeypatch, domain: str
) -> None:
    """A log of another domain and an empty log are counted and skipped; a missing folder names where it looked."""
    with SessionLogWriter(tmp_path / "b.jsonl", {"nep": 1, "domain": "blender", "session": "b", "meta": {}}) as log:
        log.append({"t": 0.0, "action": {"kind": "mesh.primitive_cube_add"}})
    (tmp_path / "empty.jsonl").write_text("")
    sessions, report = collect(str(tmp_path))
    assert sessions == []
    assert report.counts["logs of another domain (skipped)"] == 1
    assert report.counts["logs that cannot be read (skipped)"] == 1
    assert any(w.startswith(f"{tmp_path / 'b.jsonl'}:1: session of domain 'blender', not '{domain}'") for w in report.warnings)
    with pytest.raises(NepError, match="no session logs"):
        collect(str(tmp_path / "missing"))
    monkeypatch.setenv("NEP_HOME", str(tmp_path / "home"))
    with pytest.raises(NepError, match=f"logs/{domain}"):
        collect("")
