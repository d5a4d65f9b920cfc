"""bench/pypi_release_repo.py commits a package's source releases in order, and the git collector reads them.

The package index is a local JSON file with sdists beside it (file:// addresses), laid out as the
PyPI JSON API lays out a project: relative sdist addresses (tar.gz and zip), wheels, a pre-release
and a yanked file.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

from nep_core.collector import CollectReport
from nep_code.collectors.git import GitCollector

REPO = Path(__file__).resolve().parents[2]
BODY = "".join(f"def f{n}(a):\n    return a + {n}\n\n" for n in range(12))


def sdist(path: Path, top: str, files: dict[str, str]) -> None:
    if path.suffix == ".zip":  # older packages published zip sdists
        with zipfile.ZipFile(path, "w") as zipped:
            for name, text in files.items():
                zipped.writestr(f"{top}/{name}", text)
        return
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def release(url: str, uploaded: str, kind: str = "sdist", yanked: bool = False) -> dict:
    return {"packagetype": kind, "url": url, "upload_time": uploaded, "yanked": yanked}


def make_index(folder: Path) -> str:
    versions = {
        "1.0": BODY,
        "1.1": BODY.replace("a + 3", "a + 30").replace("a + 5", "a + 50"),
        "1.2": BODY.replace("a + 3", "a + 30").replace("a + 5", "a + 50").replace("a + 9", "a * 9")
        .replace("a + 11", "a * 11"),
    }
    (folder / "files").mkdir(parents=True)
    releases: dict[str, list[dict]] = {}
    for number, (version, text) in enumerate(versions.items()):
        name = f"demo-{version}.zip" if version == "1.2" else f"demo-{version}.tar.gz"
        sdist(folder / "files" / name, f"demo-{version}", {"src/demo.py": text, "PKG-INFO": f"Version: {version}\n"})
        releases[version] = [
            release(f"files/{name}.whl", f"2026-01-0{number + 1}T10:00:00", "bdist_wheel"),
            release(f"files/{name}", f"2026-01-0{number + 1}T10:00:00"),
        ]
    sdist(folder / "files" / "demo-2.0rc1.tar.gz", "demo-2.0rc1", {"src/demo.py": "broken = (\n"})
    releases["2.0rc1"] = [release("files/demo-2.0rc1.tar.gz", "2026-01-05T10:00:00")]
    releases["0.9"] = [release("files/demo-0.9.tar.gz", "2025-12-01T10:00:00", yanked=True)]
    (folder / "demo.json").write_text(json.dumps({"releases": releases}))
    return (folder / "{name}.json").as_uri().replace("%7B", "{").replace("%7D", "}")


def run_tool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "bench" / "pypi_release_repo.py"), *args], capture_output=True, text=True
    )


def test_releases_become_commits_in_version_order_that_the_git_collector_reads(tmp_path: Path) -> None:
    index = make_index(tmp_path / "index")
    out = tmp_path / "demo-releases"
    done = run_tool("demo", "--last", "3", "--out", str(out), "--index", index)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["releases"] == 3 and summary["last"]["version"] == "1.2"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask  # not the temporary folder's private 0700

    log = subprocess.run(["git", "-C", str(out), "log", "--format=%s|%aI"], capture_output=True, text=True).stdout
    assert log.splitlines() == [
        "demo 1.2|2026-01-03T10:00:00+00:00",
        "demo 1.1|2026-01-02T10:00:00+00:00",
        "demo 1.0|2026-01-01T10:00:00+00:00",
    ]
    assert "a * 9" in (out / "src" / "demo.py").read_text()

    report = CollectReport()
    sessions = list(GitCollector().collect(f"{out}?ext=py", report))
    edits = {session.meta["subject"]: [e.action.args["insert"] for e in session.events if e.action] for session in sessions}
    assert edits == {
        "demo 1.1": ["    return a + 30\n", "    return a + 50\n"],
        "demo 1.2": ["    return a * 9\n", "    return a * 11\n"],
    }


def test_a_folder_that_is_not_empty_is_refused(tmp_path: Path) -> None:
    index = make_index(tmp_path / "index")
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    done = run_tool("demo", "--out", str(out), "--index", index)
    assert done.returncode != 0
    assert "exists and is not an empty folder" in done.stderr and "Traceback" not in done.stderr
    assert (out / "keep.txt").read_text() == "mine"
