"""WaggleBot review dashboard (placeholder until the dashboard issue: status counts only)."""

from __future__ import annotations

import streamlit as st

from wagglebot.db import session_scope
from wagglebot.db.queries import status_counts

st.set_page_config(page_title="WaggleBot", page_icon="🐝", layout="wide")
st.title("WaggleBot")
st.caption("Korean community posts into narrated Shorts, with a person approving every post.")

with session_scope() as session:
    counts = status_counts(session)

for column, (status, count) in zip(st.columns(len(counts)), counts.items(), strict=True):
    column.metric(status.value.title(), count)

st.info("The review inbox, script editing, progress and gallery pages arrive next.")
