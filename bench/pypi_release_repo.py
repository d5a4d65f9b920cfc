"""Build a git repository from a PyPI package's source releases, one commit per release.

Real commit histories are the code domain's evaluation data. Where no repository can be cloned,
a package that releases on every merged pull request (Hypothesis does) gives almost the same
thing: consecutive source releases, each committed in order with its upload time, so the
`git` collector reads one pull request per commit.

    python bench/pypi_release_repo.py hypothesis --last 130 --out /data/hypothesis-releases
    nep collect --domain code --source 'git:/data/hypothesis-releases?ext=py' --out data/hyp

This is a development tool: it downloads from the package index (nothing in NEP does at run
time). It prints one JSON object: the releases committed and the files of the last one. The
repository is built in a temporary folder beside ``--out`` and moved there when complete, so a
failure (the network, say) leaves no half-built ``--out``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin

from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import argument_parser, git, machine, positive_int, progress, run_main  # noqa: E402

from nep_core.errors import NepError  # noqa: E402

INDEX = "https://pypi.org/pypi/{name}/json"


def source_releases(name: str, last: int, index: str = INDEX) -> list[tuple[str, str, str]]:
    """The newest `last` final releases with an sdist, oldest first: (version, url, upload time)."""
    index_url = index.format(name=name)
    try:
        releases = json.loads(download(index_url, 60)).get("releases") or {}
    except (ValueError, AttributeError):
        raise NepError(f"{index_url}: not a package index's JSON answer") from None
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


def download(url: str, timeout: float) -> bytes:
    """The body at ``url``; a network or HTTP failure is a NepError naming the address."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        raise NepError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise NepError(f"{url}: {getattr(error, 'reason', error)}") from None


def safe_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    """The regular files and folders of ``tar`` that stay inside the folder they unpack into (what
    ``filter="data"`` keeps, for Pythons before 3.11.4 that lack it; links are left out)."""
    return [member for member in tar.getmembers() if (member.isfile() or member.isdir())
            and not PurePosixPath(member.name).is_absolute() and ".." not in PurePosixPath(member.name).parts]


def unpack(archive: Path, into: Path) -> Path:
    """Unpack an sdist (.tar.gz or .zip) and return its top-level folder (``into`` when there is none)."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(into)
    else:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
                tar.extractall(into, filter="data")
            else:
                tar.extractall(into, members=safe_members(tar))
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


def build(name: str, last: int, out: Path, index: str = INDEX) -> dict:
    """The repository of ``name``'s newest ``last`` releases, built beside ``out`` and moved there when complete."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise NepError(f"{out} exists and is not an empty folder")
    releases = source_releases(name, last, index)
    if not releases:
        raise NepError(f"{name}: no final release with a source distribution on {index.format(name=name)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    building.chmod(0o777 & ~umask)  # a folder as mkdir makes it, not mkdtemp's private 0700
    try:
        summary = commit_releases(name, releases, building)
        if out.exists():
            out.rmdir()
        building.rename(out)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return {**summary, "repository": str(out)}


def commit_releases(name: str, releases: list[tuple[str, str, str]], out: Path) -> dict:
    """One commit per release in a new repository at ``out``, oldest first."""
    git(out, "init", "-q", "-b", "main")
    committed = []
    with tempfile.TemporaryDirectory() as scratch:
        for number, (version, url, uploaded) in enumerate(releases, start=1):
            progress(f"{name} {version} ({number} of {len(releases)})")
            archive = Path(scratch) / f"{version}.sdist"
            archive.write_bytes(download(url, 120))
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
        "releases": len(committed),
        "first": committed[0] if committed else None,
        "last": committed[-1] if committed else None,
        "files": len(files),
        "python_files": sum(f.endswith(".py") for f in files),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argument_parser(__doc__)
    parser.add_argument("package", help="the PyPI project name, e.g. hypothesis")
    parser.add_argument("--last", type=positive_int, default=100, help="how many of the newest final releases")
    parser.add_argument("--out", type=Path, required=True, help="a new (or empty) folder for the repository")
    parser.add_argument("--index", default=INDEX, help="the JSON API address, {name} for the package")
    args = parser.parse_args(argv)
    print(json.dumps({**build(args.package, args.last, args.out.expanduser(), args.index), "machine": machine()}, indent=2))


if __name__ == "__main__":
    run_main(main)
