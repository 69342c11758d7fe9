"""A post's files: where they live, what they are called, how they are written and named.

Each post has a folder under the media root (posts/<id>/) holding what the
sweep makes, always under these names; this module is the only place that
names them. Files are referred to relative to the media folder in XCom, the
per-post JSON files and the contents row ("posts/6/short.mp4"), and each
process resolves that against its own WAGGLE_MEDIA_ROOT, so a GPU host that
mounts the shared folder elsewhere (NFS, say) reads and writes the same files
as the host that claimed the post. A stored absolute path (written before, or
a file outside the media folder) is used as it is.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from wagglebot.core.config import Settings

log = logging.getLogger(__name__)

SCRIPT = "script.json"  # text, raw engine output, engine
VOICE = "voice.json"  # audio file, duration, subtitle cues, engine
VOICE_AUDIO = "voice.wav"
VIDEO = "short.mp4"
THUMBNAIL = "short.jpg"
PICTURES = "pictures"  # a folder: the post's pictures, checked


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


def posts_folder(settings: Settings) -> Path:
    """Where every post's files live, one folder per post."""
    return settings.media_root / "posts"


def post_folder(settings: Settings, post_id: int | str) -> Path:
    return posts_folder(settings) / str(post_id)


def music_folder(settings: Settings) -> Path:
    """The built-in music beds, made once."""
    return settings.media_root / "music"


def previews_folder(settings: Settings) -> Path:
    """The dashboard's checked copies of posts' pictures."""
    return settings.preview_cache or settings.media_root / "previews"


def post_file(settings: Settings, post_id: int | str, name: str) -> Path:
    """One of the post's files (``name``: SCRIPT, VOICE, VIDEO ...)."""
    return post_folder(settings, post_id) / name


def write_json(path: Path, data: object) -> None:
    """Atomically: a reader sees the old file or the whole new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=".", suffix=".part", delete=False, encoding="utf-8"
    ) as tmp:
        json.dump(data, tmp, ensure_ascii=False, indent=1)
    os.chmod(tmp.name, 0o644)  # like the media files beside it (mkstemp makes 0600)
    os.replace(tmp.name, path)


def discard_leftovers(folder: Path) -> list[str]:
    """Remove what a killed attempt left half-made in a post's folder: every stage stages its
    files under a dot-name there (``.short-render-*/``, ``.tmp*.part``) and renames them
    into place only when whole. One task works on a post at a time, so any dot-name found
    before the work starts is a dead attempt's."""
    removed = []
    for entry in folder.glob(".*") if folder.is_dir() else []:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry.name)
    if removed:
        log.warning("removed what a killed attempt left in %s: %s", folder, sorted(removed))
    return removed


def read_json(settings: Settings, ref: str | Path) -> Any:
    """A stage's JSON output, named as XCom names it (relative to the media folder)."""
    return json.loads(media_path(settings, ref).read_text(encoding="utf-8"))
