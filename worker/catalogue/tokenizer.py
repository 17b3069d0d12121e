"""A byte-level tokenizer made locally (one token per UTF-8 byte), which every random-weight
build uses in place of its checkpoint's tokenizer: nothing here downloads anything.

`tokenizers` and `transformers` are imported when one is built, never at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

MAX_SEQUENCE_LENGTH = 512
SPECIAL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5


def build_tokenizer(model_max_length: int = MAX_SEQUENCE_LENGTH) -> PreTrainedTokenizerFast:
    """A byte-level tokenizer (one token per UTF-8 byte) made without any download."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    # Sorted so the ids do not depend on set iteration order.
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    # T5 appends </s> to every sequence; WanPipeline counts it through the attention mask.
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", 1)]
    )
    tokenizer.add_special_tokens(list(SPECIAL_TOKENS))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=model_max_length,
    )


def build_clip_tokenizer() -> PreTrainedTokenizerFast:
    """The same, at CLIP's 77 tokens (the second text encoder of HunyuanVideo and Kandinsky)."""
    return build_tokenizer(model_max_length=77)
