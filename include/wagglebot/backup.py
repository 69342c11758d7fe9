"""Backups that restore: the app database, the media folder and the secrets, in one dated
folder under WAGGLE_BACKUP_DIR; a backup counts only once its manifest is written last."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    finished_at: datetime  # UTC
    manifest: dict


def finished_backups(folder: Path | None) -> list[BackupInfo]:
    """The complete backups in ``folder``, oldest first (a half-made one has no manifest)."""
    found = []
    for candidate in sorted(folder.iterdir()) if folder and folder.is_dir() else []:
        try:
            manifest = json.loads((candidate / MANIFEST).read_text(encoding="utf-8"))
            finished = datetime.fromisoformat(manifest["finished_at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(BackupInfo(candidate, finished, manifest))
    return sorted(found, key=lambda b: b.finished_at)
