"""The transformers script engine: a local causal LM writes the narration script.

The model is loaded once per sweep (``load_model``) and then writes many posts
(``write_script``); ``LoadedModel.close`` gives its memory back. Weights are
only ever read from disk (a local folder, or a repo already in the Hugging Face
cache): nothing is downloaded at run time. Every output goes through the same
softening, anonymising and ``validate()`` as the offline engine; a refused
output is generated again, up to ``attempts`` times.

torch and transformers are imported inside the functions, so importing this
module stays cheap (Airflow parses the DAGs that import it).
"""

from __future__ import annotations

import gc
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wagglebot.produce.stages.script import (
    STAND_IN,
    TARGET_CHARS,
    InvalidScript,
    PostText,
    Script,
    anonymise,
    soften,
    validate,
)

if TYPE_CHECKING:
    from types import TracebackType

log = logging.getLogger(__name__)

MAX_NEW_TOKENS = 480  # a 150-300 character Korean script is ~100-300 tokens; bounded run time
TEMPERATURE, TOP_P, REPETITION_PENALTY = 0.7, 0.9, 1.1
SEED = 20240  # per attempt: SEED + attempt, so a rerun writes the same script
# What of the post reaches the prompt: enough to tell the story, bounded for any post.
TITLE_CHARS, BODY_CHARS, COMMENT_CHARS, COMMENTS = 200, 1500, 200, 3
HOW_TO_FIX = (
    "set WAGGLE_LLM_MODEL to a local model folder or a Hugging Face repo id already in "
    "the local cache, or use WAGGLE_LLM_ENGINE=extractive"
)

SYSTEM_PROMPT = (
    "너는 한국 커뮤니티의 인기 글을 유튜브 쇼츠 내레이션으로 들려주는 작가다. "
    "규칙: 150~300자(읽으면 30~55초) 분량으로, 소리 내어 읽기 좋은 자연스러운 존댓말 문장만 쓴다. "
    "첫 문장은 글의 제목을 자연스럽게 읽어 주고, 베스트 댓글을 한두 개 소개하며 끝낸다. "
    f"사람 이름이나 닉네임은 쓰지 말고 '{STAND_IN}' 또는 '글쓴이'라고 부른다. "
    "욕설은 순한 말로 바꾼다. 제목, 목록, 번호, 기호, 이모지, 마크다운 없이 "
    "내레이션 문장만 출력한다."
)


class LlmUnavailable(RuntimeError):
    """The configured model cannot be loaded (missing, not cached, unreadable)."""


@dataclass(frozen=True)
class Precision:
    """How the model is placed: ``name`` nf4/bfloat16/float16/float32 on ``device``."""

    name: str
    device: str  # "cuda" or "cpu"
    dtype: str  # torch dtype name: of the weights, or the 4-bit compute dtype


def choose_precision(cuda_available: bool, bnb_available: bool, bf16_supported: bool) -> Precision:
    """The placement policy: 4-bit NF4 on a GPU when possible, half on a GPU, fp32 on CPU."""
    half = "bfloat16" if bf16_supported else "float16"
    if cuda_available and bnb_available:
        return Precision("nf4", "cuda", half)  # a 7B model fits a consumer GPU
    if cuda_available:
        return Precision(half, "cuda", half)
    return Precision("float32", "cpu", "float32")  # CPU half-precision matmuls are slow


@dataclass
class LoadedModel:
    """A model and its tokenizer, loaded once and used for many posts; close() frees it."""

    model: Any
    tokenizer: Any
    description: str  # recorded as the script's engine, e.g. "transformers:Qwen nf4/cuda"
    precision: Precision
    generations: int = 0  # how many times generate() ran, for the logs

    def close(self) -> None:
        if self.model is None:
            return
        self.model = None
        gc.collect()  # the weights are only freed once nothing refers to them
        if self.precision.device == "cuda":
            import torch

            torch.cuda.empty_cache()  # give the cached blocks back to the driver too
        log.info("LLM %s released after %d generations", self.description, self.generations)

    def __enter__(self) -> LoadedModel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _cuda_state() -> tuple[bool, bool, bool]:
    import torch

    if not torch.cuda.is_available():
        return False, False, False
    try:
        import bitsandbytes  # noqa: F401  (importable means its CUDA library loads)

        bnb = True
    except Exception:  # a broken install is as good as none: fall back to half precision
        bnb = False
    return True, bnb, torch.cuda.is_bf16_supported()


def _resolve(model: str) -> tuple[str, str]:
    """(what from_pretrained gets, a short name): a local folder, or a cached repo id."""
    if not model.strip():
        raise LlmUnavailable(f"no LLM model configured: {HOW_TO_FIX}")
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise LlmUnavailable(f"LLM model folder {path} has no config.json: {HOW_TO_FIX}")
        return str(path), path.resolve().name
    from huggingface_hub import try_to_load_from_cache

    try:  # looks in the cache only, never on the network
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not even a valid repo id: a folder path that does not exist
        cached = None
    if isinstance(cached, str):
        return model, model
    raise LlmUnavailable(
        f"LLM model {model!r} is neither a local folder nor a repo in the local Hugging Face "
        f"cache, and the LLM stage never downloads: {HOW_TO_FIX}"
    )


def load_model(model: str) -> LoadedModel:
    """Load ``model`` (a folder, or a repo id in the local HF cache) for generation, offline."""
    source, name = _resolve(model)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig

    precision = choose_precision(*_cuda_state())
    dtype = getattr(torch, precision.dtype)
    kwargs: dict[str, Any] = {"dtype": dtype, "local_files_only": True}
    if precision.device == "cuda":
        kwargs["device_map"] = {"": torch.cuda.current_device()}  # all of it on the GPU
    if precision.name == "nf4":
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=dtype,
            bnb_4bit_use_double_quant=True,
        )
    started = time.monotonic()
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        lm = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise LlmUnavailable(f"cannot load LLM model {model!r}: {exc}; {HOW_TO_FIX}") from exc
    lm.eval()
    description = f"transformers:{name} {precision.name}/{precision.device}"
    log.info("LLM %s loaded in %.1f s", description, time.monotonic() - started)
    return LoadedModel(lm, tokenizer, description, precision)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def build_messages(post: PostText) -> list[dict[str, str]]:
    """The chat (system + user) asking for a narration of ``post``, inputs already cleaned.

    The model never sees the comment authors' names or the post's profanity, so it cannot
    repeat them; the output is cleaned again anyway.
    """
    names = [author for author, _ in post.comments if author]

    def clean(text: str, limit: int) -> str:
        return _clip(anonymise(soften(text), names), limit)

    parts = [
        f"다음 게시글을 약 {TARGET_CHARS}자의 쇼츠 내레이션으로 바꿔 주세요.",
        f"제목: {clean(post.title, TITLE_CHARS)}",
    ]
    if body := clean(post.content, BODY_CHARS):
        parts.append(f"본문: {body}")
    comments = [c for _, text in post.comments[:COMMENTS] if (c := clean(text, COMMENT_CHARS))]
    parts += [f"베스트 댓글: {c}" for c in comments]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "\n\n".join(parts)},
    ]


def build_prompt(tokenizer: Any, post: PostText) -> str:
    """The text the model continues: the chat template's, or plain text for a base model."""
    messages = build_messages(post)
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # A base model: plain text that ends where the answer should start.
    return "\n\n".join(m["content"] for m in messages) + "\n\n내레이션:"


_THINK = re.compile(r"<think>.*?</think>", re.S)  # reasoning models think out loud first
_LABEL = re.compile(r"^\s*(대본|내레이션|나레이션|스크립트|script|narration)\s*[:：]\s*", re.I)
_QUOTES = "\"'“”‘’「」『』"


def clean_output(raw: str) -> str:
    """The script inside a model's answer: no reasoning, no leading label, no quotes around."""
    text = _LABEL.sub("", _THINK.sub("", raw).strip()).strip()
    while len(text) > 1 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _generate(loaded: LoadedModel, prompt: str, attempt: int) -> str:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    if model is None:
        raise LlmUnavailable("the LLM was closed")
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    # Chat models often end a turn with a token other than the tokenizer's eos: stop at any.
    configured = model.generation_config.eos_token_id
    configured = configured if isinstance(configured, list) else [configured]
    eos = sorted({*configured, tokenizer.eos_token_id} - {None})
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (eos or [None])[0]
    # The first attempt is greedy: the model's most likely script, reproducible on any
    # machine. Greedy again would repeat a refused output, so retries sample (seeded).
    sample = attempt > 1
    sampling = {"temperature": TEMPERATURE, "top_p": TOP_P} if sample else {}
    torch.manual_seed(SEED + attempt)
    started = time.monotonic()
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=MAX_NEW_TOKENS,
            do_sample=sample,
            repetition_penalty=REPETITION_PENALTY,
            eos_token_id=eos or None,
            pad_token_id=pad,
            **sampling,
        )
    new = output[0, inputs["input_ids"].shape[1] :]  # only what the model added
    loaded.generations += 1
    log.info(
        "LLM attempt %d: %d prompt + %d new tokens in %.1f s",
        attempt,
        inputs["input_ids"].shape[1],
        len(new),
        time.monotonic() - started,
    )
    return tokenizer.decode(new, skip_special_tokens=True)


def write_script(loaded: LoadedModel, post: PostText, attempts: int = 3) -> Script:
    """The model's script for ``post``, validated; InvalidScript after ``attempts`` refusals."""
    names = [author for author, _ in post.comments if author]
    prompt = build_prompt(loaded.tokenizer, post)
    refused: list[InvalidScript] = []
    for attempt in range(1, max(attempts, 1) + 1):
        raw = _generate(loaded, prompt, attempt)
        try:
            text = validate(anonymise(soften(clean_output(raw)), names))
        except InvalidScript as exc:
            log.warning("LLM attempt %d refused: %s", attempt, exc)
            exc.raw = raw
            refused.append(exc)
            continue
        return Script(text=text, engine=loaded.description, raw=raw)
    reasons = "; ".join(f"attempt {i}: {exc}" for i, exc in enumerate(refused, 1))
    raise InvalidScript(
        refused[-1].reason,
        f"{len(refused)} attempt(s) by {loaded.description} refused ({reasons})",
        raw=refused[-1].raw,
    )
