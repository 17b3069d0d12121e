"""Improve prompt: a small instruction-tuned language model rewrites a short prompt in the
style of the chosen video model's family (worker.catalogue.prompting), on the models worker.

The model is loaded from the folder `helper_folder` finds (installed weights, or the demo's
tiny random checkpoint written on first use) through `from_pretrained`, and kept warm: one at
a time, since the next request is most likely the same person asking again. Django-free.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from worker.catalogue import ErrorCode, GenerationError, HelperModel
from worker.catalogue.prompting import Sampling, chat, clean_suggestion, style_for
from worker.editing.helpers import default_device, helper_folder

_warm: dict[tuple[str, str, str], tuple[Any, Any]] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class Suggestion:
    """The rewritten prompt (`text`), the model's words as it gave them (`raw`), and what
    made it."""

    text: str
    raw: str
    helper_id: str
    style: str
    new_tokens: int
    seconds: float


def load_enhancer(helper: HelperModel, device: Any = None) -> tuple[Any, Any]:
    """(causal language model in eval mode on `device`, its tokenizer); GenerationError
    (weights_missing) when it is not installed here."""
    import torch
    import transformers

    device = torch.device(device) if device is not None else default_device()
    folder = helper_folder(helper)
    if folder is None:
        raise GenerationError(
            ErrorCode.WEIGHTS_MISSING,
            f"{helper.label} is not installed; an admin installs it on the Models page "
            f"(or: manage.py fetch_model {helper.id}).")
    key = (helper.id, str(folder), str(device))
    with _lock:
        if key in _warm:
            return _warm[key]
        _warm.clear()  # one warm enhancer: the last one asked for
        # bf16 halves a GPU's share; a CPU runs float32 faster than bf16.
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        model = getattr(transformers, helper.model_class).from_pretrained(folder, dtype=dtype)
        model = model.to(device).eval().requires_grad_(False)
        # The tokenizer as the folder's tokenizer.json defines it: AutoTokenizer (transformers
        # 5) rebuilds a Qwen tokenizer from its vocabulary whatever tokenizer.json says, which
        # for the Hub's checkpoints is the same and for the demo's word-level one is not.
        tokenizer = transformers.PreTrainedTokenizerFast.from_pretrained(folder)
        if not tokenizer.chat_template:
            raise GenerationError(
                ErrorCode.MODEL_ERROR,
                f"{helper.label} has no chat template; install an instruct model's folder.")
        _warm[key] = (model, tokenizer)
        return model, tokenizer


def forget() -> None:
    with _lock:
        _warm.clear()


def without_chat_tokens(prompt: str, tokenizer: Any) -> str:
    """The person's text with the tokenizer's own control tokens (`<|im_end|>` …) taken out,
    so that text cannot close its turn and speak as the system."""
    for token in tokenizer.added_tokens_decoder.values():
        if token.content:
            prompt = prompt.replace(token.content, " ")
    return prompt


def generate_text(model: Any, tokenizer: Any, messages: list[dict[str, str]],
                  sampling: Sampling, seed: int) -> tuple[str, int]:
    """The model's answer to a chat (decoded, special tokens dropped) and how many tokens it
    made: the chat template with the assistant's turn opened, thinking off (Qwen 3), sampled
    from `seed`."""
    import torch

    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                         enable_thinking=False)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed)
        output = model.generate(**inputs, pad_token_id=pad,
                                **sampling.generate_kwargs(model.generation_config.max_new_tokens))
    new = output[0, inputs["input_ids"].shape[1]:]
    return tokenizer.decode(new, skip_special_tokens=True), int(new.shape[0])


def enhance(helper: HelperModel, prompt: str, *, family: str, from_image: bool = False,
            makes_sound: bool = False, seed: int = 10, max_chars: int = 2000,
            device: Any = None) -> Suggestion:
    """Rewrite `prompt` for a model of `family`; GenerationError when the model gives no
    usable text."""
    started = time.perf_counter()
    model, tokenizer = load_enhancer(helper, device)
    style = style_for(family)
    idea = " ".join(without_chat_tokens(prompt, tokenizer).split())
    if not idea:
        raise GenerationError(ErrorCode.BAD_PARAMETERS, "Write a prompt to improve first.")
    messages = chat(style, idea, from_image=from_image, makes_sound=makes_sound)
    raw, count = generate_text(model, tokenizer, messages, style.sampling, seed)
    text = clean_suggestion(raw, style, max_chars)
    if not text:
        raise GenerationError(ErrorCode.MODEL_ERROR,
                              f"{helper.label} gave no text this time; ask again.")
    return Suggestion(text=text, raw=raw, helper_id=helper.id, style=style.name,
                      new_tokens=count, seconds=time.perf_counter() - started)
