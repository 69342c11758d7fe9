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
