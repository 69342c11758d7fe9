"""bench/dashboard's baseline: the inbox as the old spec and its peers built it.

Every collected post is loaded as an ORM object (whole bodies included), then
filtered, sorted and paged in Python, with one query per shown post for its best
comment. It shows the same cards as the real inbox so only the data access differs.
Parameters come from the WAGGLE_BENCH_* environment variables bench/dashboard sets.
"""

from __future__ import annotations

import os

import streamlit as st
from sqlalchemy import select

from wagglebot.core.db import session_scope
from wagglebot.core.db.models import Comment, Post
from wagglebot.core.statuses import PostStatus

sort = os.environ.get("WAGGLE_BENCH_SORT", "newest")
text = os.environ.get("WAGGLE_BENCH_TEXT", "")
site = os.environ.get("WAGGLE_BENCH_SITE", "")
page = int(os.environ.get("WAGGLE_BENCH_PAGE", "1"))
PER_PAGE = 20

with session_scope() as session:
    posts = session.scalars(select(Post).where(Post.status == PostStatus.COLLECTED)).all()
    if site:
        posts = [p for p in posts if p.site_code == site]
    if text:
        posts = [p for p in posts if text in p.title or text in p.content]
    key = {
        "newest": lambda p: p.posted_at or p.created_at,
        "likes": lambda p: p.likes or -1,
        "views": lambda p: p.views or -1,
        "score": lambda p: p.score if p.score is not None else -99,
    }[sort]
    posts = sorted(posts, key=key, reverse=True)
    shown = posts[(page - 1) * PER_PAGE : page * PER_PAGE]
    st.title("Inbox")
    st.caption(f"{len(posts)} posts")
    for post in shown:
        best = session.scalars(
            select(Comment).where(Comment.post_id == post.id).order_by(Comment.likes.desc())
        ).first()
        with st.container(border=True):
            st.markdown(f"**{post.title}**")
            st.caption(f"{post.site_code} · views {post.views} · likes {post.likes}")
            st.checkbox("Select", key=f"pick-{post.id}")
            st.button("Approve", key=f"approve-{post.id}")
            with st.expander("Preview"):
                st.text(post.content[:1500])
                if best:
                    st.text(best.content)
