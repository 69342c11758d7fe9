"""The names of where things stand: a post's status, the production stages, how a stage
attempt ended. A leaf module (it imports nothing of ours), so the models, the state
machine and the pages can all use it.
"""

from __future__ import annotations

import enum


class PostStatus(enum.StrEnum):
    COLLECTED = "COLLECTED"
    APPROVED = "APPROVED"
    DECLINED = "DECLINED"
    PROCESSING = "PROCESSING"
    SCRIPTED = "SCRIPTED"  # the LLM wrote its script; a person reads (and edits) it next
    RENDERED = "RENDERED"
    PUBLISHING = "PUBLISHING"  # an upload has been claimed (and may be part-sent)
    UPLOADED = "UPLOADED"
    FAILED = "FAILED"


class UploadState(enum.StrEnum):
    """Where a post's publication on one platform stands (its uploads row). The post's own
    status follows from its platforms' (core.states.settle_publishing)."""

    WAITING = "waiting"  # asked for (or given back: quota, a stop), for the next run
    UPLOADING = "uploading"  # claimed by a run; its heartbeat says whether that run lives
    PUBLISHED = "published"
    FAILED = "failed"  # refused for good, with the platform's reason in the row's note


class Stage(enum.StrEnum):
    """The production stages, in the order a post goes through them."""

    LLM = "llm"
    TTS = "tts"
    RENDER = "render"
    UPLOAD = "upload"


class StageOutcome(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class StoryStanding(enum.IntEnum):
    """Where a story stands, from its members' statuses: the highest one wins. Only a
    WAITING story is in the Inbox; the others keep their later reposts out of it."""

    WAITING = 0  # every member is COLLECTED
    DECLINED = 1
    IN_PRODUCTION = 2  # a member is approved, being made, made, or failed
    PUBLISHED = 3  # a member is PUBLISHING or UPLOADED

    @classmethod
    def of(cls, status: PostStatus) -> StoryStanding:
        if status in (PostStatus.PUBLISHING, PostStatus.UPLOADED):
            return cls.PUBLISHED
        if status is PostStatus.DECLINED:
            return cls.DECLINED
        if status is PostStatus.COLLECTED:
            return cls.WAITING
        return cls.IN_PRODUCTION
