"""Files that hold secrets (keys, certificates, credentials, ``.env``): never collected, never recorded.

The git collector skips them (``private=0`` keeps them), the Neovim client neither records nor
sends them (its ``private_files`` setting, whose default is this list), and the ``editor`` collector
leaves them out of the logs it reads, as editors with edit prediction keep such files out of their
data and requests. A pattern is a glob matched against the
file's name, lower-cased, without its folder.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import PurePosixPath

PRIVATE_FILE_PATTERNS = (
    ".env", ".env.*", ".envrc", ".dev.vars", "*.pem", "*.key", "*.crt", "*.cert", "*.p12", "*.pfx", "*.jks",
    "*.keystore", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pgpass", ".pypirc", ".npmrc",
    "secrets.yml", "secrets.yaml", "secrets.json", "credentials", "credentials.json", "*.tfvars", "*.tfstate",
)


def is_private(path: str) -> bool:
    """Whether the file at ``path`` (``/``-separated) is one whose name matches ``PRIVATE_FILE_PATTERNS``."""
    name = PurePosixPath(path).name.lower()
    return any(fnmatchcase(name, pattern) for pattern in PRIVATE_FILE_PATTERNS)
