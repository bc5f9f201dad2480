"""The LLM environment (LE) of LEA: a state model and a reward model on one adapted LM.

An LE sequence is ``[instruction] x_1 … x_c`` (item tokens, :mod:`item_tokens`).
With ``h_j`` the last-layer hidden state at position ``j`` (the LM is frozen; LoRA
adapters θ, a state projection P_s, an action projection P_a and a score head φ
learn), for the item at chunk position ``p`` (spec-lea-equations (2)–(4)):

.. math::
    s^{\\text{LE}}_p = P_s\\, h_{\\text{before } p}, \\qquad u(a) = P_a E_I[a], \\qquad
    r^{\\text{LE}}(p, a) = \\phi\\big(h(\\text{history}_{<p},\\, a)\\big)

.. math::
    \\mathcal L_{\\text{SM}} = -\\log\\sigma\\big(\\langle s_p, u(a^+)\\rangle - \\langle s_p, u(a^-)\\rangle\\big),
    \\quad
    \\mathcal L_{\\text{RM}} = -\\log\\sigma\\big(r^{\\text{LE}}(p, a^+) - r^{\\text{LE}}(p, a^-)\\big),
    \\quad
    \\mathcal L_{\\text{LE}} = \\mathcal L_{\\text{SM}} + \\lambda_{\\text{RM}}\\mathcal L_{\\text{RM}}

The reward prompt of the *logged* next item is the sequence itself, so one causal
pass gives every state and every logged reward of a chunk; alternative actions
(negatives, candidates) are **branch tokens** appended after the chunk that see
only their history (a tree attention mask) and sit at the logged item's position.

Training draws the reward model's negatives once per position (``rm_negatives`` of
them, seeded) and, with adapters on the top ``adapt_layers`` layers only, computes
the frozen lower layers once (:mod:`recrl_core.llm.trunk`); the state model's
negatives are only vectors ``u(a)`` and are drawn afresh at every step.

Taught in: sec-llm-environment
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from recrl_core.config import Mode
from recrl_core.llm import trunk
from recrl_core.llm.logprobs import attention_without_cudnn
from recrl_core.llm.token_tree import tree_batch
from recrl_core.methods.lea.item_tokens import ItemTokens

INSTRUCTION = "Items a user chose, oldest first:"      # the LE prompt's fixed prefix (Proposed)


@dataclass(frozen=True)
class LEConfig:
    # (Proposed) unless marked; spec-lea-equations, spec-lea-defaults
    fraction: float = 0.3         # share of training users whose sequences train the LE. The paper's "small
                                  # subset" (Proposed 10-20 %) is of logs with thousands of sequences; the
                                  # book's slices have 300-600 users (sec-llm-environment measures 5-50 %)
    context: int = 20             # items per LE chunk: the most history a state or reward sees
    epochs: int = 8               # passes over the LE subset (Proposed 2-3 on a large log; more on a small one)
    batch_size: int = 8           # chunks per step
    lr: float = 1e-3              # adapters (Proposed 1e-4, spec-lea-defaults; the short CPU budget needs 1e-3)
    head_lr: float = 1e-2         # P_s, P_a, phi
    lora_r: int = 8               # LoRA rank (spec-lea-defaults)
    lora_alpha: int = 16
    adapt_layers: int | None = None   # adapters on the top k layers only (frozen trunk cached); None = all
    state_dim: int = 64           # width of s^LE and u(a), = the backbones' hidden size
    state_loss: str = "pairwise"  # pairwise (BPR) | infonce (spec-uncertain)
    state_negatives: int = 8      # a^- per position for L_SM, drawn afresh at every step
    rm_negatives: int = 2         # a^- per position for L_RM, drawn once (Proposed 1; each costs 1 token)
    lambda_rm: float = 1.0        # weight of L_RM
    eval_events: int = 2000       # held-out events scored by evaluate() (sampled, seeded)
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("epochs", "batch_size", "adapt_layers", "eval_events")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LEConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(adapt_layers=4, eval_events=400),
                 Mode.SMOKE: dict(epochs=2, batch_size=4, adapt_layers=1, eval_events=40)}[mode]
        return replace(cls(), **sizes)


class LEnvironment(nn.Module):
    """The adapted LM (frozen weights + LoRA), frozen item tokens, P_s, P_a and φ."""

    def __init__(self, lm: nn.Module, item_tokens: ItemTokens, instruction_ids: list[int], state_dim: int,
                 split: int = 0):
        super().__init__()
        self.lm, self.item_tokens, self.split = lm, item_tokens, split    # split: first adapted layer
        self.register_buffer("prefix", torch.tensor(instruction_ids, dtype=torch.long), persistent=False)
        width = item_tokens.weight.shape[1]
        self.state_proj = nn.Linear(width, state_dim)               # P_s
        self.action_proj = nn.Linear(width, state_dim, bias=False)  # P_a
        self.reward_head = nn.Linear(width, 1)                      # phi
        item_tokens.weight.requires_grad_(False)
        for head in (self.state_proj, self.action_proj, self.reward_head):
            head.to(item_tokens.weight.device)                      # fp32 heads beside a bf16 LM on a GPU

    def decoder(self) -> nn.Module:
        """The LM without its head (LoRA layers are injected in place, so they are used)."""
        return trunk.decoder_of(self.lm)

    def _inputs(self, tree: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(embeds (B, L, d), additive mask (B, 1, L, L) in the LM's dtype, position ids) on the LM's device."""
        embeds = self.item_tokens.embed(self.lm, tree["ids"])
        mask = None if tree["mask"] is None else tree["mask"].to(embeds.device, embeds.dtype)
        return embeds, mask, tree["position_ids"].to(embeds.device)

    def hidden(self, tree: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, L) tree batch -> (B, L, d) last-layer hidden states (the whole decoder)."""
        embeds, mask, position_ids = self._inputs(tree)
        with attention_without_cudnn():
            return self.decoder()(inputs_embeds=embeds, attention_mask=mask, position_ids=position_ids,
                                  use_cache=False).last_hidden_state

    def trunk(self, tree: dict[str, torch.Tensor]) -> trunk.Trunk:
        """The frozen layers below ``split`` on a tree batch, once (no gradient)."""
        embeds, mask, position_ids = self._inputs(tree)
        with attention_without_cudnn():
            return trunk.trunk_pass(self.decoder(), self.split, embeds.detach(), mask, position_ids)

    def top(self, cached: trunk.Trunk) -> torch.Tensor:
        """(B, L, d) last hidden states from a cached trunk: the adapted layers only, with gradient."""
        with attention_without_cudnn():
            return trunk.top_pass(self.decoder(), self.split, cached)

    def item_vectors(self) -> torch.Tensor:
        """(N, D) u(a) = P_a E_I[a] for every item."""
        return self.action_proj(self.item_tokens.weight.float())

    def states(self, h: torch.Tensor) -> torch.Tensor:
        """(..., d) hidden states before an item -> (..., D) s^LE = P_s h."""
        return self.state_proj(h.float())

    def rewards(self, h: torch.Tensor) -> torch.Tensor:
        """(..., d) hidden states at a candidate -> (...) r^LE = phi(h)."""
        return self.reward_head(h.float()).squeeze(-1)


def state_loss(states: torch.Tensor, pos_vec: torch.Tensor, neg_vec: torch.Tensor, kind: str) -> torch.Tensor:
    """L_SM per position.

    Args:
        states: (M, D) s^LE; pos_vec: (M, D) u(a^+); neg_vec: (M, K, D) u(a^-).
        kind: ``pairwise`` — mean_k −log σ(⟨s,u⁺⟩ − ⟨s,u⁻_k⟩); ``infonce`` — −log softmax over
            [u⁺, u⁻_1..K] at u⁺.
    Returns:
        (M,) losses.
    """
    pos = (states * pos_vec).sum(-1)                                   # (M,)
    neg = torch.einsum("md,mkd->mk", states, neg_vec)                  # (M, K)
    if kind == "pairwise":
        return -F.logsigmoid(pos[:, None] - neg).mean(1)
    if kind == "infonce":
        return -torch.log_softmax(torch.cat([pos[:, None], neg], 1), dim=1)[:, 0]
    raise ValueError(f"state_loss must be 'pairwise' or 'infonce', got {kind!r}")


def reward_loss(r_pos: torch.Tensor, r_neg: torch.Tensor) -> torch.Tensor:
    """L_RM per pair (Bradley–Terry): (M,), (M,) -> (M,) −log σ(r⁺ − r⁻)."""
    return -F.logsigmoid(r_pos - r_neg)


def sample_unseen(num_items: int, seen: set[int], size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` items drawn uniformly from those not in ``seen`` (with replacement)."""
    if len(seen) >= num_items:
        raise ValueError(f"no unseen item to sample: the user has seen all {num_items} items")
    out = rng.integers(0, num_items, size=size * 4 + 8)
    out = out[~np.isin(out, list(seen))] if seen else out
    while len(out) < size:                                  # a user who saw almost everything
        more = rng.integers(0, num_items, size=size * 4 + 8)
        out = np.r_[out, more[~np.isin(more, list(seen))]]
    return out[:size]


def chunks_of(sequences: dict[int, np.ndarray], context: int) -> list[tuple[int, int, np.ndarray]]:
    """Cut each user's item sequence into consecutive chunks of at most ``context`` items.

    Returns:
        ``(user, start, items)`` triples in user order; ``start`` indexes the user's sequence.
    """
    return [(u, s, seq[s:s + context]) for u, seq in sequences.items() for s in range(0, len(seq), context)]


def chunk_tree(env: LEnvironment, items: list[np.ndarray], branch_items: list[np.ndarray]) -> dict:
    """Tree batch of chunks whose branch j of width m sits at chunk position ``j // m``.

    ``branch_items[b]`` is (c_b, m): m alternatives for each position of chunk b.
    """
    P, tok = len(env.prefix), env.item_tokens
    chunks = [tok.ids(c) for c in items]
    branches = [tok.ids(np.asarray(a).reshape(-1)) for a in branch_items]
    parents = [torch.as_tensor(P - 1 + np.repeat(np.arange(len(c)), np.asarray(a).shape[1] if len(c) else 0))
               for c, a in zip(items, branch_items)]
    return tree_batch(env.prefix, chunks, branches, parents)


@dataclass
class LEBatch:
    """A fixed group of chunks with their reward-model negatives and cached trunk.

    ``chunks``: ``(user, start, items)`` triples; ``rm_neg``: one (c_b, m) array per chunk,
    the m negatives of each position (branch j of chunk b sits at position ``j // m``).
    """
    chunks: list[tuple[int, int, np.ndarray]]
    rm_neg: list[np.ndarray]
    trunk: trunk.Trunk
    main_width: int


def make_batches(env: LEnvironment, chunks: list[tuple[int, int, np.ndarray]], seen: dict[int, set[int]],
                 cfg: LEConfig, rng: np.random.Generator) -> list[LEBatch]:
    """Groups of ``cfg.batch_size`` chunks (in the given order), negatives drawn, trunks computed once."""
    n, m, out = env.item_tokens.num_items, cfg.rm_negatives, []
    for start in range(0, len(chunks), cfg.batch_size):
        part = chunks[start:start + cfg.batch_size]
        rm_neg = [sample_unseen(n, seen[u], len(c) * m, rng).reshape(len(c), m) for u, _, c in part]
        tree = chunk_tree(env, [c for _, _, c in part], rm_neg)
        out.append(LEBatch(part, rm_neg, env.trunk(tree), tree["main_width"]))
    return out


def le_loss(env: LEnvironment, batch: LEBatch, seen: dict[int, set[int]], cfg: LEConfig,
            rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """L_LE on one :class:`LEBatch`: the adapted layers on its trunk, fresh L_SM negatives.

    Returns ``{"loss", "sm", "rm"}`` (the last two detached means).
    """
    n, P, m = env.item_tokens.num_items, len(env.prefix), cfg.rm_negatives
    items = [c for _, _, c in batch.chunks]
    h = env.top(batch.trunk)                                                       # (B, L, d)
    rows = torch.cat([torch.full((len(c),), b) for b, c in enumerate(items)])      # (M,)
    pos = torch.cat([torch.arange(len(c)) for c in items])                         # (M,)
    u = env.item_vectors()                                                         # (N, D)
    states = env.states(h[rows, P - 1 + pos])                                  # (M, D)
    target = torch.as_tensor(np.concatenate(items))
    sm_neg = [sample_unseen(n, seen[u_], len(c) * cfg.state_negatives, rng) for u_, _, c in batch.chunks]
    negs = torch.as_tensor(np.concatenate(sm_neg)).view(-1, cfg.state_negatives)   # (M, K)
    l_sm = state_loss(states, u[target], u[negs], cfg.state_loss)
    branch = batch.main_width + pos[:, None] * m + torch.arange(m)                 # (M, m)
    r_pos = env.rewards(h[rows, P + pos])                                          # (M,)
    r_neg = env.rewards(h[rows[:, None], branch])                                  # (M, m)
    l_rm = reward_loss(r_pos[:, None].expand_as(r_neg), r_neg).mean(1)             # (M,)
    return {"loss": (l_sm + cfg.lambda_rm * l_rm).mean(), "sm": l_sm.mean().detach(),
            "rm": l_rm.mean().detach()}


def fit_environment(env: LEnvironment, sequences: dict[int, np.ndarray], cfg: LEConfig, *,
                    show_progress: bool = False):
    """Train adapters, P_s, P_a and φ on ``sequences`` (the LE subset); returns a per-step log.

    Chunks are grouped once (seeded order) and their trunks cached (:func:`make_batches`);
    each epoch visits the groups in a new seeded order.
    """
    import pandas as pd
    from recrl_core.progress import bar as progress_bar

    rng = np.random.default_rng(cfg.seed)
    seen = {u: set(seq.tolist()) for u, seq in sequences.items()}
    chunks = chunks_of(sequences, cfg.context)
    env.eval()                                           # the trunk is frozen: no dropout while caching it
    batches = make_batches(env, [chunks[i] for i in rng.permutation(len(chunks))], seen, cfg, rng)
    heads = [*env.state_proj.parameters(), *env.action_proj.parameters(), *env.reward_head.parameters()]
    adapters = [p for p in env.lm.parameters() if p.requires_grad]
    opt = torch.optim.Adam([{"params": adapters, "lr": cfg.lr}, {"params": heads, "lr": cfg.head_lr}])
    env.train()
    rows, step = [], 0
    for epoch in range(cfg.epochs):
        for b in progress_bar(rng.permutation(len(batches)), desc=f"LE epoch {epoch + 1}", show=show_progress,
                      leave=False):
            parts = le_loss(env, batches[b], seen, cfg, rng)
            opt.zero_grad()
            parts["loss"].backward()
            opt.step()
            step += 1
            rows.append({"step": step, "epoch": epoch + 1, **{k: float(v.detach()) for k, v in parts.items()}})
    env.eval()
    return pd.DataFrame(rows)
