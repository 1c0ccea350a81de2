"""The draft model of speculative decoding (`--model-draft REF`), opened beside the main one.

The draft is any model reference (file, folder, hf:, URL, catalog id); its projector is never
loaded. llama.cpp refuses a draft whose vocabulary does not match the target's
(common/speculative.cpp `common_speculative_are_compatible`: the same tokenizer type, and at
most SPEC_VOCAB_MAX_SIZE_DIFFERENCE = 128 tokens apart), so such a pair is refused here too,
with the two sizes named, before any memory is estimated.
"""

from __future__ import annotations

from dataclasses import replace

from vramtui.core.errors import SettingsError
from vramtui.core.gguf.spec import ModelSpec, vocab_size
from vramtui.core.model.source import open_model

VOCAB_MAX_DIFFERENCE = 128  # common/speculative.cpp SPEC_VOCAB_MAX_SIZE_DIFFERENCE


def check_draft_pair(target: ModelSpec, draft: ModelSpec) -> None:
    """Raise SettingsError when llama.cpp would refuse `draft` for `target`."""
    kind_t = target.metadata.get("tokenizer.ggml.model")
    kind_d = draft.metadata.get("tokenizer.ggml.model")
    if kind_t is not None and kind_d is not None and kind_t != kind_d:
        raise SettingsError(
            f"model-draft {draft.name}: its tokenizer ({kind_d}) is not the target's ({kind_t}); "
            "llama.cpp refuses such a draft"
        )
    n_t, n_d = vocab_size(target.metadata), vocab_size(draft.metadata)
    if n_t and n_d and abs(n_t - n_d) > VOCAB_MAX_DIFFERENCE:
        raise SettingsError(
            f"model-draft {draft.name}: its vocabulary has {n_d} tokens, the target's {n_t}; "
            f"llama.cpp refuses a draft more than {VOCAB_MAX_DIFFERENCE} tokens apart"
        )


def with_draft(spec: ModelSpec, ref: str | None) -> ModelSpec:
    """`spec` with the draft model `ref` attached (None or "": without a draft)."""
    if not ref:
        return replace(spec, draft=None) if spec.draft is not None else spec
    draft = open_model(ref, mmproj="none")
    check_draft_pair(spec, draft)
    return replace(spec, draft=replace(draft, mmproj=None, draft=None))
