"""Analytics: how the channel's Shorts did, read back from YouTube by collect_stats, and what
the channel learnt from them (expected views, the hours to publish at)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st
from sqlalchemy import select

from dashboard import ui
from wagglebot.analytics import report
from wagglebot.analytics.history import day_series, published_shorts, totals_series
from wagglebot.analytics.learn import current_model
from wagglebot.analytics.schedule import publishing_hours
from wagglebot.core.db.models import StatsRun

TOP = 5
TIME = alt.X("time:T", title=None, axis=alt.Axis(format="%m-%d %H:%M"))
tz = ui.settings().timezone

st.title("Analytics")
st.caption(
    "Figures YouTube gives back for each published Short: running totals hourly for its "
    "first two days, then daily (Data API), and YouTube Analytics' daily views, engaged "
    "views and average view percentage, which arrive 48-72 h late. Times in "
    f"{ui.md(tz)}."
)
with ui.db() as session:
    shorts = published_shorts(session)
    series = totals_series(session)
    days = day_series(session)
    last_run = session.scalars(select(StatsRun).order_by(StatsRun.id.desc()).limit(1)).first()
    model_row, model = current_model(session)
    hours = publishing_hours(session, ui.settings())

if last_run is None:
    st.info("Nothing read back yet: collect_stats runs every hour once a Short is published.")
else:
    st.caption(
        f"Last read {ui.local(last_run.finished_at)} ({ui.ago(last_run.finished_at)}) · "
        f"Shorts due: {last_run.videos} · totals read: {last_run.totals} · Analytics days "
        f"read: {last_run.days} · calls: {last_run.data_calls} Data API, "
        f"{last_run.analytics_calls} Analytics"
    )
    for part, why in (("Totals", last_run.totals_off), ("Analytics", last_run.analytics_off)):
        if why:
            st.warning(f"{part} off: {ui.md(why)}")
    if last_run.problems:
        st.error(f"Calls that failed: {ui.md(last_run.problems)}")

if not shorts:
    st.info("No Short is published yet. Publish Shorts from the Gallery.")
    st.stop()

titles = {s.post_id: f"#{s.post_id} {s.title[:40]}" for s in shorts}
now_views = sum(s.views or 0 for s in shorts)
a, b, c, d = st.columns(4)
a.metric("Shorts published", f"{len(shorts):,}")
kept = [s.retention for s in shorts if s.retention is not None]
b.metric("Views so far", f"{now_views:,}")
c.metric("Average view percentage", f"{sum(kept) / len(kept):.0f} %" if kept else "-")
d.metric("Publishing hours", " · ".join(f"{h}h" for h in hours.hours))
st.caption(ui.md(hours.reason))

st.subheader("Views over time")
if series:
    frame = pd.DataFrame(series, columns=["post", "time", "views"])
    frame["Short"] = frame["post"].map(titles)
    frame["time"] = pd.to_datetime(frame["time"]).dt.tz_localize("UTC").dt.tz_convert(tz)
    total = pd.DataFrame(report.channel_total(series), columns=["time", "views"])
    total["time"] = pd.to_datetime(total["time"]).dt.tz_localize("UTC").dt.tz_convert(tz)
    left, right = st.columns(2)
    left.altair_chart(
        alt.Chart(frame, title="Each Short")
        .mark_line(point=True)
        .encode(
            x=TIME,
            y="views:Q",
            color=alt.Color("Short:N", legend=alt.Legend(orient="bottom")),
            tooltip=["Short", "time", "views"],
        ),
        width="stretch",
    )
    right.altair_chart(
        alt.Chart(total, title="The channel")
        .mark_area(opacity=0.5, line=True, point=True)
        .encode(x=TIME, y=alt.Y("views:Q", title="views, all Shorts"), tooltip=["time", "views"]),
        width="stretch",
    )
else:
    st.info("No running totals read yet.")

st.subheader("Retention: average view percentage")
if days:
    frame = pd.DataFrame(days, columns=["post", "day", "views", "percentage"]).dropna()
    frame["Short"] = frame["post"].map(titles)
    st.altair_chart(
        alt.Chart(frame)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=None, axis=alt.Axis(format="%m-%d")),
            y=alt.Y("percentage:Q", title="average view %"),
            color="Short:N",
            tooltip=["Short", "day", "percentage", "views"],
        ),
        width="stretch",
    )
else:
    st.info("YouTube Analytics has no day figures yet (they arrive 48-72 h after a day ends).")


def _rows(chosen: list) -> list[dict]:
    return [
        {
            "Short": s.title,
            "community": s.site_code,
            "published": ui.local(s.uploaded_at),
            "views": s.views,
            "views in 24 h": s.views_24h,
            "engaged views": s.engaged_views,
            "avg view %": None if s.retention is None else round(s.retention, 1),
            "likes": s.likes,
            "comments": s.comments,
        }
        for s in chosen
    ]


top, bottom = report.ranked(shorts, TOP)
left, right = st.columns(2)
left.markdown("**Top Shorts** by views")
left.dataframe(_rows(top), hide_index=True, width="stretch")
right.markdown("**Bottom Shorts** by views")
if bottom:
    right.dataframe(_rows(bottom), hide_index=True, width="stretch")
else:
    right.caption(f"Shown once more than {TOP} Shorts have views.")

st.subheader("What did best")
st.caption("Median views in the first 24 h; a Short counts here once it is a day old.")
groupings = {
    "community": report.performance_by(shorts, lambda s: s.site_code),
    "script length": report.performance_by(shorts, report.length_bucket),
    "pictures or video": report.performance_by(shorts, report.media_kind),
    "hour published": report.by_hour(shorts, tz),
    "weekday published": report.by_weekday(shorts, tz),
}
tabs = st.tabs([name.capitalize() for name in groupings])
for tab, (name, groups) in zip(tabs, groupings.items(), strict=True):
    if not groups:
        tab.info("No Short is a day old yet.")
        continue
    frame = pd.DataFrame([g.__dict__ for g in groups])
    tab.altair_chart(
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("label:N", title=name, sort=None),
            y=alt.Y("median_views_24h:Q", title="median views, first 24 h"),
            tooltip=["label", "shorts", "median_views_24h", "retention"],
        ),
        width="stretch",
    )

st.subheader("Expected views")
if model is None:
    st.info("No model yet: collect_stats trains one within the hour.")
else:
    st.caption(
        f"{ui.md(model.basis.capitalize())}, trained {ui.local(model_row.trained_at)} on "
        f"{model.trained_on} Shorts. {ui.md(model.reason)}"
    )
    st.dataframe(
        [
            {"what": e.label, "effect on expected views": f"x{e.factor:.2f}"}
            for e in model.effects()
        ],
        hide_index=True,
    )
