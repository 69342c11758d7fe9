"""Where the media files of a post are, as stored and handed on: relative to the media folder.

XCom values, the per-post JSON files and the contents row name a file by its
path under WAGGLE_MEDIA_ROOT ("posts/6/short.mp4"), and each process resolves it
against its own media folder. So a GPU host that mounts the shared folder
elsewhere (an NFS mount, say) reads and writes the same files as the host that
claimed the post. A stored absolute path (written before this, or a file outside
the media folder) is used as it is.
"""

from __future__ import annotations

from pathlib import Path

from wagglebot.config import Settings


def media_ref(settings: Settings, path: str | Path) -> str:
    """How to store or hand on ``path``: relative to the media folder when inside it."""
    path = Path(path)
    try:
        return path.resolve().relative_to(settings.media_root).as_posix()
    except ValueError:
        return str(path)


def media_path(settings: Settings, ref: str | Path) -> Path:
    """The file a stored reference names, on this host."""
    ref = Path(ref)
    return ref if ref.is_absolute() else settings.media_root / ref
