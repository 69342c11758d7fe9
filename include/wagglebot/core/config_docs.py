"""docs/configuration.md, written from the settings object itself: every WAGGLE_* variable
with its type, default and description. `python -m wagglebot.core.config_docs` rewrites it; a
test fails when the committed file differs."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from wagglebot.core.config import ENV_PREFIX, REPO_ROOT, Settings

DOC = REPO_ROOT / "docs" / "configuration.md"
HEAD = """# Configuration

Every setting is an environment variable (or a line of `.env`), read by
`wagglebot.core.config.Settings`: the DAG tasks, Scrapy, the dashboard and the stack all read
the same object. The environment wins over `.env`, whole (a JSON value there replaces the
file's rather than merging with it). A missing or invalid value stops the program with a
message naming the variable, never its value. Lists and mappings are JSON. Paths default
under the checkout (`REPO`). `./wagglebot up` writes the secrets it generates (and
`WAGGLE_CRAWL_TARGET=sample` on a fresh install) into `.env` (0600).

This file is generated from the settings themselves (`python -m wagglebot.core.config_docs`).

| variable | type | default | what it is |
|---|---|---|---|
"""


def _type(annotation: object) -> str:
    """A type as a reader writes it: "int", "Path or none", "live / sample", "list[str]"."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args)
    if origin is typing.Literal:
        return " / ".join(str(a) for a in args)
    if origin in (list, dict):
        return f"{origin.__name__}[{', '.join(_type(a) for a in args)}]"
    if annotation is type(None):
        return "none"
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined:
        return "(required)"
    value = field.default
    if value is None:
        return "(none)"
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, Path):
        try:
            return f"`REPO/{value.relative_to(REPO_ROOT).as_posix()}`"
        except ValueError:
            return f"`{value}`"
    if isinstance(value, list | dict):
        return f"`{json.dumps(value, ensure_ascii=False)}`"
    return f"`{value}`" if value != "" else '`""`'


def configuration_markdown() -> str:
    rows = []
    for name, field in Settings.model_fields.items():
        description = " ".join((field.description or "").split())
        description = description.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
        rows.append(
            f"| `{ENV_PREFIX}{name.upper()}` | {_type(field.annotation)} | "
            f"{_default(field)} | {description} |"
        )
    return HEAD + "\n".join(rows) + "\n"


if __name__ == "__main__":
    DOC.write_text(configuration_markdown(), encoding="utf-8")
    print(f"wrote {DOC}")
