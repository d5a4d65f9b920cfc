"""Reading a zip member with a cap on what it unpacks to: a small archive must not inflate in memory (a zip bomb)."""

from __future__ import annotations

import zipfile


class MemberTooLarge(ValueError):
    """The member unpacks to more than the cap: ``size`` is its declared size, or None when it declared less
    and unpacked past the cap anyway."""

    def __init__(self, size: int | None):
        super().__init__(f"unpacks to {size} bytes" if size is not None else "unpacks to more than it declares")
        self.size = size


def read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """The bytes of ``info``, at most ``limit``: its declared size is checked before it is read, and the read
    stops one byte past ``limit``; ``MemberTooLarge`` when it is over."""
    if info.file_size > limit:
        raise MemberTooLarge(info.file_size)
    with archive.open(info) as member:
        data = member.read(limit + 1)
    if len(data) > limit:
        raise MemberTooLarge(None)
    return data
