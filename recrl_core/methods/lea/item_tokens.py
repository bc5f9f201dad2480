"""Item tokens: one new input embedding per catalogue item, learned with the LM frozen.

LEA's first stage (spec-lea-known (a), spec-lea-equations (1)). Item ``i`` becomes the id
``V + i`` (``V`` = the LM's vocabulary size); :class:`ItemTokens` turns a mixed id
tensor into ``inputs_embeds`` — text ids through the LM's own embedding table,
item ids through a new table ``E_I`` (N, d). The tokenizer and the LM head are
untouched: an item token is read, never generated. Only ``E_I`` is trained, by the
LM's next-token loss on a sentence that follows the item token:

.. math::
    \\mathcal L_{\\text{tok}}(i) = -\\sum_k \\log p_{\\text{LLM}}\\big(w_k \\mid x^I_i, w_{<k}\\big)

e.g. ``[x_i] is Oasis, an artist tagged britpop, rock, british.``. Rows start at the
mean input embedding of that sentence's tokens (``init="text_mean"``: name and tags),
so a short training budget already starts from a point that carries the item's text.

Taught in: sec-llm-environment
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from torch import nn

from recrl_core.config import Mode

IGNORE = -100                         # label of positions without a loss


@dataclass(frozen=True)
class ItemTokenConfig:
    epochs: int = 3                   # passes over the item sentences (Proposed: 1-3, spec-lea-defaults)
    batch_size: int = 32              # sentences per step
    lr: float = 1e-3                  # Adam on E_I (Proposed, spec-lea-defaults)
    max_text_tokens: int = 24         # sentence tokens after the item token (longer ones are cut)
    init: str = "text_mean"           # text_mean (mean embedding of the item sentence) | random (N(0, std))
    probe_items: int = 64             # fixed sample on which the log reports L_tok before/after each epoch
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("epochs", "batch_size")

    @classmethod
    def for_mode(cls, mode: Mode) -> "ItemTokenConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(epochs=1), Mode.SMOKE: dict(epochs=1, batch_size=16)}[mode]
        return replace(cls(), **sizes)


class ItemTokens(nn.Module):
    """``E_I`` (N, d) and the id convention ``V + i`` for item ``i``.

    Args:
        num_items: N.
        dim: d, the LM's embedding width.
        vocab_size: V, the first item id.
    """

    def __init__(self, num_items: int, dim: int, vocab_size: int):
        super().__init__()
        self.vocab_size, self.num_items = vocab_size, num_items
        self.weight = nn.Parameter(torch.zeros(num_items, dim))

    def ids(self, items) -> torch.Tensor:
        """Item indices (any shape) -> their token ids ``V + i``."""
        items = torch.as_tensor(np.array(items, dtype=np.int64))     # a copy: inputs may be read-only
        if items.numel() and (items.min() < 0 or items.max() >= self.num_items):
            raise ValueError(f"item index out of range [0, {self.num_items}): "
                             f"min {int(items.min())}, max {int(items.max())}")
        return items + self.vocab_size

    def embed(self, lm: nn.Module, ids: torch.Tensor) -> torch.Tensor:
        """(B, L) mixed ids -> (B, L, d) input embeddings (text rows from the LM, item rows from E_I)."""
        ids = ids.to(self.weight.device)
        is_item = ids >= self.vocab_size                                      # (B, L)
        text = lm.get_input_embeddings()(ids.clamp(max=self.vocab_size - 1))  # (B, L, d)
        items = self.weight[(ids - self.vocab_size).clamp(min=0, max=self.num_items - 1)]
        return torch.where(is_item.unsqueeze(-1), items.to(text.dtype), text)


def item_sentences(names: Sequence[str], details: Sequence[str]) -> list[str]:
    """The text after each item token: ``" is <name>, <detail>."`` (one home for the template)."""
    return [f" is {n}, {d}." if d else f" is {n}." for n, d in zip(names, details)]


def init_item_tokens(lm: nn.Module, tok, sentences: Sequence[str], cfg: ItemTokenConfig) -> ItemTokens:
    """A fresh :class:`ItemTokens` for the items of ``sentences`` (:func:`item_sentences`).

    Rows = the mean input embedding of each sentence's first ``max_text_tokens`` tokens
    (``text_mean``), or seeded noise with the LM table's std (``random``).
    """
    table = lm.get_input_embeddings().weight.detach()                        # (V, d)
    tokens = ItemTokens(len(sentences), table.shape[1], table.shape[0]).to(table.device, table.dtype)
    if cfg.init == "random":
        gen = torch.Generator().manual_seed(cfg.seed)
        rows = torch.randn(len(sentences), table.shape[1], generator=gen) * table.float().std().item()
    elif cfg.init == "text_mean":
        rows = torch.stack([table[tok(s, add_special_tokens=False)["input_ids"][:cfg.max_text_tokens] or [0]].mean(0)
                            for s in sentences])
    else:
        raise ValueError(f"ItemTokenConfig.init must be 'text_mean' or 'random', got {cfg.init!r}")
    tokens.weight.data.copy_(rows)
    return tokens


def sentence_batch(tok, item_tokens: ItemTokens, items: np.ndarray, sentences: Sequence[str],
                   max_text_tokens: int) -> dict[str, torch.Tensor]:
    """``[x_i] w_1 .. w_k`` right-padded: ``input_ids`` (B, 1+k), ``attention_mask``, ``labels``.

    ``labels[t]`` is the token to predict *at* position t (already shifted): the item
    position predicts ``w_1``, ``w_k`` predicts nothing (IGNORE), padding is IGNORE.
    """
    texts = [tok(s, add_special_tokens=False)["input_ids"][:max_text_tokens] for s in sentences]
    width = 1 + max(len(t) for t in texts)
    ids = torch.full((len(texts), width), tok.pad_token_id, dtype=torch.long)
    labels = torch.full_like(ids, IGNORE)
    mask = torch.zeros_like(ids)
    for row, (item, text) in enumerate(zip(items, texts)):
        ids[row, 0] = item_tokens.ids(int(item))
        ids[row, 1:1 + len(text)] = torch.tensor(text)
        labels[row, :len(text)] = torch.tensor(text)
        mask[row, :1 + len(text)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def token_loss(lm: nn.Module, item_tokens: ItemTokens, batch: dict) -> torch.Tensor:
    """Mean of L_tok per sentence token over the batch (scalar, with gradient to E_I)."""
    device = item_tokens.weight.device
    embeds = item_tokens.embed(lm, batch["input_ids"])                        # (B, L, d)
    logits = lm(inputs_embeds=embeds, attention_mask=batch["attention_mask"].to(device)).logits  # (B, L, V)
    return nn.functional.cross_entropy(logits.flatten(0, 1).float(), batch["labels"].to(device).flatten(),
                                       ignore_index=IGNORE)


def freeze_lm(lm: nn.Module) -> None:
    """No LM parameter takes a gradient (only E_I learns)."""
    for p in lm.parameters():
        p.requires_grad_(False)


def fit_item_tokens(lm: nn.Module, tok, names: Sequence[str], details: Sequence[str],
                    cfg: ItemTokenConfig, *, show_progress: bool = False) -> tuple[ItemTokens, pd.DataFrame]:
    """Learn E_I with the LM frozen; returns the tokens and a log (epoch 0 = before training).

    Items are visited in a seeded random order each epoch. The log holds L_tok per
    sentence token on a fixed seeded sample of ``probe_items`` items (before training
    and after each epoch) and the mean training-batch loss of each epoch.
    """
    from recrl_core.progress import bar as progress_bar

    freeze_lm(lm)
    lm.eval()                                                  # no dropout: only E_I changes
    sentences = item_sentences(names, details)
    tokens = init_item_tokens(lm, tok, sentences, cfg)
    opt = torch.optim.Adam(tokens.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    n = len(names)
    probe = np.sort(rng.choice(n, size=min(n, cfg.probe_items), replace=False))   # fixed sample for the log
    rows = [{"epoch": 0, "loss": _mean_loss(lm, tok, tokens, [sentences[i] for i in probe], probe, cfg)}]
    for epoch in range(1, cfg.epochs + 1):
        order, losses = rng.permutation(n), []
        for start in progress_bar(range(0, n, cfg.batch_size), desc=f"item tokens {epoch}", show=show_progress,
                          leave=False):
            idx = order[start:start + cfg.batch_size]
            loss = token_loss(lm, tokens, sentence_batch(tok, tokens, idx, [sentences[i] for i in idx],
                                                         cfg.max_text_tokens))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        rows.append({"epoch": epoch, "loss": _mean_loss(lm, tok, tokens, [sentences[i] for i in probe], probe, cfg),
                     "train_loss": float(np.mean(losses))})
    return tokens, pd.DataFrame(rows)


@torch.no_grad()
def _mean_loss(lm, tok, tokens: ItemTokens, sentences: list[str], items: np.ndarray, cfg: ItemTokenConfig) -> float:
    """Mean L_tok per token over ``items`` (their ``sentences``), one batch, no gradient."""
    return token_loss(lm, tokens, sentence_batch(tok, tokens, items, sentences, cfg.max_text_tokens)).item()


def nearest_items(vectors: torch.Tensor, query: int, k: int = 5) -> list[tuple[int, float]]:
    """The ``k`` items with the highest cosine similarity to item ``query`` (itself excluded)."""
    unit = nn.functional.normalize(vectors.detach().float(), dim=-1)          # (N, d)
    sims = unit @ unit[query]                                                 # (N,)
    sims[query] = -float("inf")
    top = torch.topk(sims, k)
    return [(int(i), float(s)) for i, s in zip(top.indices, top.values)]
