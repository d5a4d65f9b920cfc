"""Build a git repository from a PyPI package's source releases, one commit per release.

Real commit histories are the code domain's evaluation data. Where no repository can be cloned,
a package that releases on every merged pull request (Hypothesis does) gives almost the same
thing: consecutive source releases, each committed in order with its upload time, so the
`git` collector reads one pull request per commit.

    python bench/pypi_release_repo.py hypothesis --last 130 --out /data/hypothesis-releases
    nep collect --domain code --source 'git:/data/hypothesis-releases?ext=py' --out data/hyp

This is a development tool: it downloads from the package index (nothing in NEP does at run
time). It prints one JSON object: the releases committed and the files of the last one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

INDEX = "https://pypi.org/pypi/{name}/json"


def source_releases(name: str, last: int, index: str = INDEX) -> list[tuple[str, str, str]]:
    """The newest `last` final releases with an sdist, oldest first: (version, url, upload time)."""
    index_url = index.format(name=name)
    with urllib.request.urlopen(index_url, timeout=60) as response:
        releases = json.load(response)["releases"]
    found = []
    for version, files in releases.items():
        try:
            parsed = Version(version)
        except InvalidVersion:
            continue
        sdists = [f for f in files if f["packagetype"] == "sdist" and not f.get("yanked")]
        if sdists and not parsed.is_prerelease:
            sdist = sdists[0]
            found.append((parsed, version, urljoin(index_url, sdist["url"]), sdist["upload_time"]))
    found.sort()
    return [(version, url, uploaded) for _, version, url, uploaded in found[-last:]]


def unpack(archive: Path, into: Path) -> Path:
    """Unpack an sdist (.tar.gz or .zip) and return its top-level folder (``into`` when there is none)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(into)
    else:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")
    entries = list(into.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else into


def replace_tree(repo: Path, release: Path) -> None:
    """Make the work tree exactly the release's files (the .git folder kept)."""
    for entry in repo.iterdir():
        if entry.name == ".git":
            continue
        shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
    for entry in release.iterdir():
        target = repo / entry.name
        shutil.copytree(entry, target, symlinks=True) if entry.is_dir() else shutil.copy2(entry, target)


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env
    ).stdout


def build(name: str, last: int, out: Path, index: str = INDEX) -> dict:
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"error: {out} exists and is not empty")
    out.mkdir(parents=True, exist_ok=True)
    git(out, "init", "-q", "-b", "main")
    releases = source_releases(name, last, index)
    committed = []
    with tempfile.TemporaryDirectory() as scratch:
        for version, url, uploaded in releases:
            archive = Path(scratch) / f"{version}.sdist"
            with urllib.request.urlopen(url, timeout=120) as response, open(archive, "wb") as f:
                shutil.copyfileobj(response, f)
            unpacked = Path(scratch) / version
            unpacked.mkdir()
            replace_tree(out, unpack(archive, unpacked))
            shutil.rmtree(unpacked)
            archive.unlink()
            # An sdist's files may keep the same size and time stamp from one release to the next,
            # which git's index takes for unchanged: start from an empty index so every file is hashed.
            (out / ".git" / "index").unlink(missing_ok=True)
            git(out, "add", "-A")
            env = {
                **os.environ,
                "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": f"{name}@pypi.invalid",
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": f"{name}@pypi.invalid",
                "GIT_AUTHOR_DATE": uploaded + "Z", "GIT_COMMITTER_DATE": uploaded + "Z",
            }
            git(out, "commit", "-q", "--allow-empty", "-m", f"{name} {version}", env=env)
            committed.append({"version": version, "uploaded": uploaded})
    files = git(out, "ls-files").splitlines()
    return {
        "package": name,
        "repository": str(out),
        "releases": len(committed),
        "first": committed[0] if committed else None,
        "last": committed[-1] if committed else None,
        "files": len(files),
        "python_files": sum(f.endswith(".py") for f in files),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", help="the PyPI project name, e.g. hypothesis")
    parser.add_argument("--last", type=int, default=100, help="how many newest releases (100)")
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the repository")
    parser.add_argument("--index", default=INDEX, help="the JSON API address, {name} for the package")
    args = parser.parse_args(argv)
    print(json.dumps(build(args.package, args.last, args.out, args.index), indent=2))


if __name__ == "__main__":
    sys.exit(main())
