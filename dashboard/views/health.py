"""Health: every check the system makes of itself, worst first (wagglebot.ops.health)."""

from __future__ import annotations

import streamlit as st

from dashboard import ui
from wagglebot.ops.health import Check

# Words, not coloured emoji: they read the same in every browser and font.
LEVELS = {"red": "RED", "amber": "AMBER", "green": "green"}


def _since(check: Check) -> str:
    return f"{ui.local(check.since)} ({ui.ago(check.since)})" if check.since else ""


st.title("Health")
st.caption(
    "Crawls, production, publishing, disks, GPUs, backups and services, checked at most "
    f"{ui.HEALTH_SECONDS} s ago. Alerts go out when a check turns red or green again "
    "(WAGGLE_ALERT_URLS); the thresholds are WAGGLE_HEALTH_* settings."
)
if st.button("Check now", icon=":material/refresh:"):
    ui.health_checks.clear()
checks = sorted(ui.health_checks(), key=lambda c: (-c.level.rank, c.group, c.name))
st.subheader(f"{ui.health_summary(checks).capitalize()} · {len(checks)} checks")
rows = [
    {
        "level": LEVELS[c.level.value],
        "check": c.name,
        "value": c.value,
        "failing since": _since(c),
        "what it means": c.detail,
        "threshold": c.threshold,
        "group": c.group,
    }
    for c in checks
]
st.dataframe(rows, hide_index=True, width="stretch")
