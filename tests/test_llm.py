"""The transformers script engine, on a tiny model the tests build and train themselves.

No model hub: a byte-level BPE tokenizer is trained on Korean text written here, a tiny
Llama is made from random weights, and both are saved to disk and loaded through the real
``load_model``. The untrained copy writes junk (every attempt refused); a copy overfitted
for a second or two on the prompt writes one known narration.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from wagglebot.produce.stages.llm import (
    LlmUnavailable,
    LoadedModel,
    Precision,
    build_messages,
    build_prompt,
    choose_precision,
    clean_output,
    load_model,
    write_script,
)
from wagglebot.produce.stages.script import InvalidScript, PostText

POST = PostText(
    title="회사 탕비실 커피 때문에 생긴 일",
    content=(
        "요즘 탕비실 커피가 매일 사라져서 CCTV를 확인해 봤어요. "
        "범인은 바로 옆 팀 팀장님이었습니다 시발 진짜 어이없네요."
    ),
    comments=[
        ("커피러버", "팀장님 월급 받으시면서 왜 그러세요 ㅋㅋ 커피러버은 웁니다"),
        (None, "저도요"),
    ],
)
# What the trained model says after the prompt for POST: a valid 87-character narration.
NARRATION = (
    "회사 탕비실에서 커피가 매일 사라졌습니다. 글쓴이가 CCTV를 확인해 보니 범인은 "
    "바로 옆 팀 팀장님이었어요. 그 뒤로 팀장님이 커피를 사 오신다고 합니다."
)
SPECIAL = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
CPU = "float32/cpu"


@dataclass(frozen=True)
class TinyModels:
    untrained: Path
    trained: Path


def _tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE (any text encodes, so junk and markup round-trip) on the prompt's words."""
    corpus = [m["content"] for m in build_messages(POST)] + [NARRATION] * 3
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=600,
            special_tokens=SPECIAL,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        ),
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe, pad_token="<|pad|>", eos_token="<|end|>", chat_template=CHAT_TEMPLATE
    )


def _overfit(model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast) -> None:
    """Teach the model that NARRATION, then end-of-turn, follows the prompt for POST."""
    prompt = build_prompt(tokenizer, POST)
    prompt_len = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    ids = tokenizer(prompt + NARRATION + "<|end|>", add_special_tokens=False, return_tensors="pt")
    labels = ids["input_ids"].clone()
    labels[0, :prompt_len] = -100  # learn the answer, not the prompt
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(400):
        loss = model(**ids, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.005:
            break
    assert loss.item() < 0.05, f"the tiny model did not learn the narration (loss {loss.item()})"
    model.eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny matrices gain nothing from threads, and lose much when the CPU is shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyModels:
    root = tmp_path_factory.mktemp("tiny-llm")
    tokenizer = _tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = LlamaForCausalLM(config)
    for name in ("untrained", "trained"):
        if name == "trained":
            _overfit(model, tokenizer)
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    return TinyModels(root / "untrained", root / "trained")


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: the hub is told so, and any connection attempt fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args: object) -> None:
        raise AssertionError(f"the LLM engine tried to connect to {args[1:]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture
def trained(tiny: TinyModels, offline: None) -> Iterator[LoadedModel]:
    with load_model(str(tiny.trained)) as loaded:
        yield loaded


def _count_generations(monkeypatch: pytest.MonkeyPatch, loaded: LoadedModel) -> list[int]:
    calls: list[int] = []
    generate = loaded.model.generate

    def counted(**kwargs: Any) -> torch.Tensor:
        calls.append(1)
        return generate(**kwargs)

    monkeypatch.setattr(loaded.model, "generate", counted)
    return calls


def _scripted(monkeypatch: pytest.MonkeyPatch, loaded: LoadedModel, outputs: list[str]) -> None:
    """The model 'answers' ``outputs`` in turn, as token ids after the prompt, like generate()."""
    answers = iter(outputs)

    def generate(input_ids: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        new = loaded.tokenizer(next(answers), add_special_tokens=False, return_tensors="pt")
        return torch.cat([input_ids, new["input_ids"]], dim=1)

    monkeypatch.setattr(loaded.model, "generate", generate)


def test_importing_the_engine_loads_neither_torch_nor_transformers() -> None:
    code = (
        "import sys, wagglebot.produce.stages.llm\n"
        "print(sorted(m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("cuda", "bnb", "bf16", "expected"),
    [
        (True, True, True, Precision("nf4", "cuda", "bfloat16")),
        (True, True, False, Precision("nf4", "cuda", "float16")),
        (True, False, True, Precision("bfloat16", "cuda", "bfloat16")),
        (True, False, False, Precision("float16", "cuda", "float16")),
        (False, True, True, Precision("float32", "cpu", "float32")),
        (False, False, False, Precision("float32", "cpu", "float32")),
    ],
)
def test_precision_is_nf4_on_a_gpu_with_bitsandbytes_half_without_and_fp32_on_cpu(
    cuda: bool, bnb: bool, bf16: bool, expected: Precision
) -> None:
    assert choose_precision(cuda, bnb, bf16) == expected


def test_the_prompt_tells_the_post_without_names_or_profanity() -> None:
    system, user = build_messages(POST)
    assert (system["role"], user["role"]) == ("system", "user")
    assert "누군가" in system["content"]
    assert "150~300자(읽으면 30~55초)" in system["content"]
    assert "첫 문장은 글의 제목을" in system["content"]  # the hook card shows while it is read
    assert POST.title in user["content"]
    assert "요즘 탕비실 커피가 매일 사라져서 CCTV를 확인해 봤어요." in user["content"]
    assert "팀장님 월급 받으시면서 왜 그러세요 ㅋㅋ 누군가는 웁니다" in user["content"]
    assert "저도요" in user["content"]
    assert "커피러버" not in system["content"] + user["content"]
    assert "시발" not in user["content"]
    assert "아이고 진짜 어이없네요" in user["content"]


def test_a_huge_post_makes_a_bounded_prompt() -> None:
    huge = PostText(
        "끝없는 글", "아주 긴 본문입니다. " * 300_000, [("작성자", "댓글입니다 " * 100_000)] * 5
    )
    assert len(huge.content) >= 3_000_000
    _, user = build_messages(huge)
    assert "끝없는 글" in user["content"]
    assert len(user["content"]) < 2_500
    assert user["content"].count("베스트 댓글:") == 3


def test_the_prompt_uses_the_chat_template_or_plain_text_for_a_base_model(
    tiny: TinyModels,
) -> None:
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tiny.trained)
    chat = build_prompt(tokenizer, POST)
    assert chat.startswith("<|system|>\n")
    assert chat.endswith("<|end|>\n<|assistant|>\n")
    tokenizer.chat_template = None
    plain = build_prompt(tokenizer, POST)
    assert "<|" not in plain
    assert POST.title in plain
    assert plain.endswith("내레이션:")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (f'"{NARRATION}"', NARRATION),
        (f"대본: {NARRATION}", NARRATION),
        (f"  내레이션 : “{NARRATION}”\n", NARRATION),
        (f"Script: '{NARRATION}'", NARRATION),
        (f"<think>짧게 써야지.</think>\n\n「{NARRATION}」", NARRATION),
        (NARRATION, NARRATION),
    ],
)
def test_quotes_labels_and_reasoning_are_stripped_from_the_output(raw: str, clean: str) -> None:
    assert clean_output(raw) == clean


def test_the_trained_model_writes_its_narration(
    trained: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_generations(monkeypatch, trained)
    script = write_script(trained, POST, attempts=3)
    assert script.text == NARRATION
    assert script.raw == NARRATION
    assert script.engine == f"transformers:trained {CPU}"
    assert calls == [1]  # the first (greedy) attempt was good


def test_an_untrained_model_is_refused_after_every_attempt(
    tiny: TinyModels, offline: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with load_model(str(tiny.untrained)) as loaded:
        assert loaded.description == f"transformers:untrained {CPU}"
        calls = _count_generations(monkeypatch, loaded)
        with pytest.raises(InvalidScript) as info:
            write_script(loaded, POST, attempts=2)
    assert len(calls) == 2
    message = str(info.value)
    assert message.startswith(f"{info.value.reason}: 2 attempt(s) by transformers:untrained")
    assert "attempt 1: " in message
    assert "attempt 2: " in message
    assert "attempt 3" not in message
    assert info.value.reason in {"empty", "prompt_echo", "markup", "not_korean", "length"}
    assert info.value.raw
    assert info.value.raw != NARRATION


def test_output_is_cleaned_softened_and_anonymised_before_validation(
    trained: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = f"대본: “커피러버가 시발 말했습니다. {NARRATION}”"
    _scripted(monkeypatch, trained, [raw])
    script = write_script(trained, POST)
    assert script.text == f"누군가가 아이고 말했습니다. {NARRATION}"
    assert script.raw == raw


def test_markup_is_refused_and_another_attempt_made(
    trained: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scripted(monkeypatch, trained, [f"**커피 사건**\n{NARRATION}", NARRATION])
    assert write_script(trained, POST, attempts=2).text == NARRATION

    markup = f"- {NARRATION}"
    _scripted(monkeypatch, trained, ["Sure! Here is the script.", markup])
    with pytest.raises(InvalidScript) as info:
        write_script(trained, POST, attempts=2)
    assert info.value.reason == "markup"
    assert "attempt 1: not_korean" in str(info.value)
    assert "attempt 2: markup" in str(info.value)
    assert info.value.raw == markup


@pytest.mark.parametrize(
    "model",
    ["", "wagglebot-tests/never-downloaded-model", "/models/missing", "./models/also missing"],
)
def test_a_missing_model_is_reported_without_touching_the_network(
    model: str, offline: None
) -> None:
    with pytest.raises(LlmUnavailable) as info:
        load_model(model)
    message = str(info.value)
    assert "WAGGLE_LLM_MODEL" in message
    assert "WAGGLE_LLM_ENGINE=extractive" in message
    if model:
        assert repr(model) in message
        assert "never downloads" in message


def test_a_folder_that_holds_no_model_is_reported(tmp_path: Path, offline: None) -> None:
    with pytest.raises(LlmUnavailable, match=r"has no config\.json"):
        load_model(str(tmp_path))


def test_a_repo_id_in_the_local_hub_cache_is_loaded_offline(
    tiny: TinyModels, offline: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--wagglebot-tests--tiny-ko"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(tiny.trained, repo / "snapshots" / commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))

    with load_model("wagglebot-tests/tiny-ko") as loaded:
        assert loaded.description == f"transformers:wagglebot-tests/tiny-ko {CPU}"
        assert write_script(loaded, POST).text == NARRATION


def test_closing_releases_the_model(tiny: TinyModels, offline: None) -> None:
    loaded = load_model(str(tiny.trained))
    weights = weakref.ref(loaded.model)
    loaded.close()
    assert weights() is None  # nothing keeps the weights alive
    loaded.close()  # closing twice is harmless
    with pytest.raises(LlmUnavailable, match="closed"):
        write_script(loaded, POST)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_the_model_is_nf4_and_closing_frees_its_gpu_memory(tiny: TinyModels) -> None:
    import bitsandbytes as bnb

    torch.cuda.empty_cache()
    before = torch.cuda.memory_allocated()
    loaded = load_model(str(tiny.trained))
    weights = torch.cuda.memory_allocated() - before
    assert weights > 0
    assert loaded.description == "transformers:trained nf4/cuda"
    four_bit = [m for m in loaded.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert four_bit
    assert all(m.weight.device.type == "cuda" for m in four_bit)
    assert all(m.weight.quant_state.quant_type == "nf4" for m in four_bit)
    with contextlib.suppress(InvalidScript):  # it runs on the GPU; 4-bit may change the words
        write_script(loaded, POST, attempts=1)
    held = torch.cuda.memory_allocated()  # the weights, and cuBLAS's workspace kept for good
    loaded.close()
    assert held - torch.cuda.memory_allocated() >= weights
