"""Publishing rendered Shorts: the door every platform goes through.

A ``Publisher`` uploads one Short with its metadata and returns where it lives. It
keeps its progress in an ``UploadJournal`` (the database, in production) so that a
run that dies mid-upload is resumed by the next, never started again. YouTube is
the platform built now (``publish.youtube``); another (TikTok, Instagram) is one
more class with the same method, and neither the DAG nor the dashboard changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from wagglebot.publish.metadata import ShortMetadata


@dataclass(frozen=True)
class ShortUpload:
    post_id: int
    video: Path
    metadata: ShortMetadata


@dataclass(frozen=True)
class Published:
    platform: str
    video_id: str
    url: str
    privacy: str


class UploadJournal(Protocol):
    """Where an upload's session and progress are kept, before and while bytes move."""

    session_uri: str | None  # a session an earlier run started, to resume

    def started(self, session_uri: str, total_bytes: int) -> None: ...

    def progressed(self, bytes_sent: int) -> None: ...

    def gone(self) -> None:
        """YouTube said the session is gone (404 or 410): the next upload starts anew."""


class Publisher(Protocol):
    platform: str

    def upload(self, short: ShortUpload, journal: UploadJournal) -> Published: ...


class PublishError(RuntimeError):
    """An upload did not happen; ``reason`` is the platform's own word for why."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


class QuotaExhausted(PublishError):
    """Today's allowance is spent: stop the run; the post waits for the next day's."""


class PublishRejected(PublishError):
    """The platform refused this post in a way no retry fixes (its metadata, its video)."""


class CredentialsRefused(PublishError):
    """The platform refused our credentials (a refresh answered invalid_grant, consent was
    revoked, 401 after a fresh token): publishing stops, and every post keeps its place
    and its upload session for the run after new credentials."""


class PublishingOff(PublishError):
    """Publishing cannot start here (no credentials); the message says how to turn it on."""
