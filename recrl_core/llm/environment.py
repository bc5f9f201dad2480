"""The LLM environment (LE) of LEA: a state model and a reward model on one adapted LM.

An LE sequence is ``[instruction] x_1 … x_c`` (item tokens, :mod:`item_tokens`).
With ``h_j`` the last-layer hidden state at position ``j`` (the LM is frozen; LoRA
adapters θ, a state projection P_s, an action projection P_a and a score head φ
learn), for the item at chunk position ``p`` (methods.md §2.3 (2)–(4)):

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
from recrl_core.envs.calibration import auc
from recrl_core.eval import metrics, ranking
from recrl_core.llm.item_tokens import ItemTokens

INSTRUCTION = "Items a user chose, oldest first:"      # the LE prompt's fixed prefix (Proposed)


@dataclass(frozen=True)
class LEConfig:
    fraction: float = 0.15        # share of training users whose sequences train the LE (Proposed: 10-20 %)
    context: int = 20             # items per LE chunk: the most history a state or reward sees (Proposed)
    epochs: int = 3               # passes over the LE subset (Proposed: 2-3)
    batch_size: int = 8           # chunks per step
    lr: float = 1e-4              # adapters (Proposed, methods.md §2.4)
    head_lr: float = 1e-3         # P_s, P_a, phi (Proposed)
    lora_r: int = 8               # LoRA rank (Proposed, methods.md §2.4)
    lora_alpha: int = 16
    state_dim: int = 64           # width of s^LE and u(a), = the backbones' hidden size (Proposed)
    state_loss: str = "pairwise"  # pairwise (BPR) | infonce (methods.md §9)
    state_negatives: int = 8      # sampled a^- per position for L_SM
    lambda_rm: float = 1.0        # weight of L_RM (Proposed)
    eval_events: int = 2000       # held-out events scored by evaluate() (sampled, seeded)
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("epochs", "batch_size", "eval_events")

    @classmethod
    def for_mode(cls, mode: Mode) -> "LEConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(epochs=2, eval_events=400),
                 Mode.SMOKE: dict(epochs=1, batch_size=4, eval_events=40)}[mode]
        return replace(cls(), **sizes)


class LEnvironment(nn.Module):
    """The adapted LM (frozen weights + LoRA), frozen item tokens, P_s, P_a and φ."""

    def __init__(self, lm: nn.Module, item_tokens: ItemTokens, instruction_ids: list[int], state_dim: int):
        super().__init__()
        self.lm, self.item_tokens = lm, item_tokens
        self.register_buffer("prefix", torch.tensor(instruction_ids, dtype=torch.long), persistent=False)
        width = item_tokens.weight.shape[1]
        self.state_proj = nn.Linear(width, state_dim)               # P_s
        self.action_proj = nn.Linear(width, state_dim, bias=False)  # P_a
        self.reward_head = nn.Linear(width, 1)                      # phi
        item_tokens.weight.requires_grad_(False)

    def decoder(self) -> nn.Module:
        """The LM without its head (LoRA layers are injected in place, so they are used)."""
        core = self.lm.get_base_model() if hasattr(self.lm, "get_base_model") else self.lm
        return core.base_model

    def hidden(self, tree: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B, L) tree batch -> (B, L, d) last-layer hidden states."""
        embeds = self.item_tokens.embed(self.lm, tree["ids"])
        return self.decoder()(inputs_embeds=embeds, attention_mask=tree["mask"],
                              position_ids=tree["position_ids"]).last_hidden_state

    def item_vectors(self) -> torch.Tensor:
        """(N, D) u(a) = P_a E_I[a] for every item."""
        return self.action_proj(self.item_tokens.weight)

    def rewards(self, h: torch.Tensor) -> torch.Tensor:
        """(..., d) hidden states -> (...) r^LE."""
        return self.reward_head(h).squeeze(-1)


def tree_batch(prefix: torch.Tensor, chunks: list[torch.Tensor], branches: list[torch.Tensor],
               parents: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Main sequences ``[prefix, chunk]`` followed by branch tokens that each see a main prefix.

    Args:
        prefix: (P,) instruction ids shared by every row.
        chunks: B tensors of mixed ids (c_b,), the main sequences after the prefix.
        branches: B tensors (n_b,) of branch token ids.
        parents: B tensors (n_b,): index into the *main* sequence of the last token each
            branch sees; the branch gets position id ``parent + 1``.
    Returns:
        ``ids`` (B, L), ``mask`` (B, 1, L, L) additive float mask, ``position_ids`` (B, L),
        ``main_width`` (Lm = P + max c_b); padding is the id 0, visible to nobody.
    """
    P, B = len(prefix), len(chunks)
    main_len = torch.tensor([P + len(c) for c in chunks])
    n_len = torch.tensor([len(b) for b in branches])
    Lm, Lb = int(main_len.max()), int(n_len.max()) if B else 0
    ids = torch.zeros(B, Lm + Lb, dtype=torch.long)
    parent = torch.full((B, Lb), -1, dtype=torch.long)
    for b in range(B):
        ids[b, :P], ids[b, P:main_len[b]] = prefix, chunks[b]
        ids[b, Lm:Lm + n_len[b]], parent[b, :n_len[b]] = branches[b], parents[b]
    am, ab = torch.arange(Lm), torch.arange(Lb)
    valid = am[None] < main_len[:, None]                                           # (B, Lm)
    mm = (am[None, :] <= am[:, None])[None] & valid[:, None, :] & valid[:, :, None]  # (B, Lm, Lm)
    bm = am[None, None, :] <= parent[:, :, None]                                   # (B, Lb, Lm)
    bb = (ab[None, :] == ab[:, None])[None] & (parent >= 0)[:, :, None]            # (B, Lb, Lb)
    allowed = torch.cat([torch.cat([mm, torch.zeros(B, Lm, Lb, dtype=torch.bool)], 2),
                         torch.cat([bm, bb], 2)], 1)                               # (B, L, L)
    allowed |= torch.eye(Lm + Lb, dtype=torch.bool)[None]      # padding rows see themselves (no NaN)
    mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
    position_ids = torch.cat([am.expand(B, Lm), (parent + 1).clamp(min=0)], 1)
    return {"ids": ids, "mask": mask[:, None], "position_ids": position_ids, "main_width": Lm}


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


def le_step(env: LEnvironment, batch: list[tuple[int, int, np.ndarray]], seen: dict[int, set[int]],
            cfg: LEConfig, rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """L_LE on a batch of chunks: one tree pass (chunk + one RM negative per position)."""
    n, P = env.item_tokens.num_items, len(env.prefix)
    items = [c for _, _, c in batch]
    rm_neg = [sample_unseen(n, seen[u], len(c), rng)[:, None] for u, _, c in batch]       # (c, 1) each
    sm_neg = [sample_unseen(n, seen[u], len(c) * cfg.state_negatives, rng) for u, _, c in batch]
    tree = chunk_tree(env, items, rm_neg)
    h = env.hidden(tree)                                                           # (B, L, d)
    Lm = tree["main_width"]
    rows = torch.cat([torch.full((len(c),), b) for b, c in enumerate(items)])      # (M,)
    pos = torch.cat([torch.arange(len(c)) for c in items])                         # (M,)
    u = env.item_vectors()                                                         # (N, D)
    states = env.state_proj(h[rows, P - 1 + pos])                                  # (M, D)
    target = torch.as_tensor(np.concatenate(items))
    negs = torch.as_tensor(np.concatenate(sm_neg)).view(-1, cfg.state_negatives)   # (M, K)
    l_sm = state_loss(states, u[target], u[negs], cfg.state_loss)
    l_rm = reward_loss(env.rewards(h[rows, P + pos]), env.rewards(h[rows, Lm + pos]))
    return {"loss": (l_sm + cfg.lambda_rm * l_rm).mean(), "sm": l_sm.mean().detach(),
            "rm": l_rm.mean().detach()}


def fit_environment(env: LEnvironment, sequences: dict[int, np.ndarray], cfg: LEConfig, *,
                    show_progress: bool = False):
    """Train adapters, P_s, P_a and φ on ``sequences`` (the LE subset); returns a per-step log."""
    import pandas as pd
    from tqdm.auto import tqdm

    rng = np.random.default_rng(cfg.seed)
    seen = {u: set(seq.tolist()) for u, seq in sequences.items()}
    chunks = chunks_of(sequences, cfg.context)
    heads = [*env.state_proj.parameters(), *env.action_proj.parameters(), *env.reward_head.parameters()]
    adapters = [p for p in env.lm.parameters() if p.requires_grad]
    opt = torch.optim.Adam([{"params": adapters, "lr": cfg.lr}, {"params": heads, "lr": cfg.head_lr}])
    env.train()
    rows, step = [], 0
    for epoch in range(cfg.epochs):
        order = rng.permutation(len(chunks))
        for start in tqdm(range(0, len(order), cfg.batch_size), desc=f"LE epoch {epoch + 1}",
                          disable=not show_progress, leave=False):
            parts = le_step(env, [chunks[i] for i in order[start:start + cfg.batch_size]], seen, cfg, rng)
            opt.zero_grad()
            parts["loss"].backward()
            opt.step()
            step += 1
            rows.append({"step": step, "epoch": epoch + 1, **{k: float(v.detach()) for k, v in parts.items()}})
    env.eval()
    return pd.DataFrame(rows)


@torch.no_grad()
def evaluate(env: LEnvironment, events, item_counts: np.ndarray, cfg: LEConfig, *,
             batch_size: int = 16) -> dict[str, float]:
    """The LE on held-out events: reward-model pairs and state-model ranking, with popularity beside.

    For ``cfg.eval_events`` sampled events (seeded): the history's last ``context`` items,
    the target ``a+`` and one uniform unseen ``a-``. Reported: pairwise accuracy
    P(r(a+) > r(a-)) and pooled AUC of r^LE and of popularity (training counts; ties ½),
    and HR/NDCG@10 of ranking all items by ⟨s^LE, u(a)⟩ beside popularity's top-10.
    """
    rng = np.random.default_rng(cfg.seed + 1)
    rows = rng.choice(len(events), size=min(cfg.eval_events, len(events)), replace=False)
    n, P = env.item_tokens.num_items, len(env.prefix)
    r_pos, r_neg, ranks, negs = [], [], [], []
    u = env.item_vectors()                                                        # (N, D)
    for start in range(0, len(rows), batch_size):
        idx = rows[start:start + batch_size]
        hist = [events.items[i, :events.lengths[i]][-cfg.context:] for i in idx]
        neg = [sample_unseen(n, set(h.tolist()) | {int(events.target[i])}, 1, rng)[0] for h, i in zip(hist, idx)]
        pair = [np.array([[events.target[i], m]]) for i, m in zip(idx, neg)]    # (1, 2): both at the end
        tree = tree_batch(env.prefix, [env.item_tokens.ids(h) for h in hist],
                          [env.item_tokens.ids(p.reshape(-1)) for p in pair],
                          [torch.full((2,), P - 1 + len(h)) for h in hist])
        h = env.hidden(tree)
        Lm, b = tree["main_width"], torch.arange(len(idx))
        r = env.rewards(h[:, Lm:Lm + 2])                                          # (B, 2)
        r_pos.append(r[:, 0]), r_neg.append(r[:, 1]), negs.extend(neg)
        last = torch.as_tensor([P - 1 + len(x) for x in hist])
        scores = env.state_proj(h[b, last]) @ u.T                                 # (B, N)
        ranks.append(ranking.full_ranks(scores, torch.as_tensor(events.target[idx])))
    r_pos, r_neg = torch.cat(r_pos).numpy(), torch.cat(r_neg).numpy()
    pop_pos, pop_neg = item_counts[events.target[rows]].astype(float), item_counts[np.array(negs)].astype(float)
    ranks = torch.cat(ranks).numpy()
    pop_ranks = ranking.full_ranks(torch.as_tensor(item_counts, dtype=torch.float32).expand(len(rows), -1),
                                   torch.as_tensor(events.target[rows])).numpy()
    labels = np.r_[np.ones(len(rows)), np.zeros(len(rows))]
    return {"events": len(rows),
            "rm_accuracy": float(np.mean((r_pos > r_neg) + 0.5 * (r_pos == r_neg))),
            "rm_auc": auc(np.r_[r_pos, r_neg], labels),
            "pop_accuracy": float(np.mean((pop_pos > pop_neg) + 0.5 * (pop_pos == pop_neg))),
            "pop_auc": auc(np.r_[pop_pos, pop_neg], labels),
            "state_hr@10": metrics.hit_at_k(ranks, 10), "state_ndcg@10": metrics.ndcg_at_k(ranks, 10),
            "pop_hr@10": metrics.hit_at_k(pop_ranks, 10), "pop_ndcg@10": metrics.ndcg_at_k(pop_ranks, 10)}
