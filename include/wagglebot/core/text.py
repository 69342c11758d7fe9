"""Patterns every phase reads text with: web addresses and emoji (one definition each)."""

from __future__ import annotations

import re

URL = re.compile(r"(https?://|www\.)\S+", re.I)
EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\u200d\ufe0f\u20e3]+"
)
