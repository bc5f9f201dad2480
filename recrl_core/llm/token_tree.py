"""Token trees: many prompts that share a prefix, scored in one forward pass.

A batch row holds a main sequence ``[prefix, chunk]`` and, after it, single **branch
tokens** that each see only a prefix of the main sequence (a tree-shaped additive
attention mask) and take the position id right after it. A branch's last hidden state
then equals that of its own prompt ``main[: parent + 1] + [branch]`` run alone — one
token per extra prompt instead of a whole prompt (tested against separate prompts).

``branch_batch`` generalises this to **multi-token branches** behind per-row prompts:
a row ``[prompt_b, branch_b1, branch_b2, ...]`` where each branch sees its row's whole
prompt and its own earlier tokens, so C answers to one prompt cost ``P + sum |answer|``
tokens instead of ``C * P + sum |answer|`` (``llm.candidates.score_candidate_sets``).

Taught in: sec-llm-environment, sec-lm-as-policy
"""

from __future__ import annotations

import torch


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


def branch_batch(prompts: list[torch.Tensor], branches: list[list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Rows ``[prompt_b, branch_b1, branch_b2, ...]``: every branch continues its row's prompt alone.

    A branch token attends to the whole prompt of its row and to the earlier tokens of its
    own branch only; branch k of row b takes position ids ``P_b, P_b + 1, ...`` as if it
    directly followed the prompt. Rows are right-padded with the id 0 (visible to nobody;
    padding rows see themselves, so no softmax row is empty).

    Args:
        prompts: B tensors (P_b,) of prompt ids, each non-empty.
        branches: B lists of tensors (n_bk,) of branch ids (K_b branches in row b).
    Returns:
        ``ids`` (B, L), ``mask`` (B, 1, L, L) additive float mask, ``position_ids`` (B, L),
        and per branch token (N = sum n_bk of them, ordered by row, then branch, then token):
        ``token_row`` (N,), ``token_col`` (N,) its column, ``pred_col`` (N,) the column whose
        logits predict it (the last prompt token for a branch's first token, else the
        previous branch token) and ``token_branch`` (N,) the branch's index when all
        branches are listed row by row (0 .. sum K_b - 1).

    Taught in: sec-lm-as-policy
    """
    if len(prompts) != len(branches):
        raise ValueError(f"{len(prompts)} prompts but {len(branches)} branch lists")
    if any(len(p) == 0 for p in prompts):
        raise ValueError("every prompt needs at least one token (its last token predicts each branch)")
    B = len(prompts)
    L = max((len(p) + sum(len(t) for t in br) for p, br in zip(prompts, branches)), default=0)
    ids, position_ids = torch.zeros(B, L, dtype=torch.long), torch.zeros(B, L, dtype=torch.long)
    segment = torch.full((B, L), -2, dtype=torch.long)        # -1 prompt, k branch k, -2 padding
    index = {name: [] for name in ("token_row", "token_col", "pred_col", "token_branch")}
    k = 0
    for b, (prompt, row) in enumerate(zip(prompts, branches)):
        P = len(prompt)
        ids[b, :P], segment[b, :P], position_ids[b, :P] = prompt, -1, torch.arange(P)
        start = P
        for tokens in row:
            cols = torch.arange(start, start + len(tokens))                               # (n,)
            ids[b, cols], segment[b, cols], position_ids[b, cols] = tokens, k, cols - start + P
            pred = cols - 1
            pred[:1] = P - 1                                   # the first token: the prompt end
            values = (torch.full_like(cols, b), cols, pred, torch.full_like(cols, k))
            for name, value in zip(index, values):
                index[name].append(value)
            start, k = start + len(tokens), k + 1
    out = {name: torch.cat(v) if v else torch.zeros(0, dtype=torch.long) for name, v in index.items()}
    return {"ids": ids, "mask": _branch_mask(segment), "position_ids": position_ids, **out}


def _branch_mask(segment: torch.Tensor) -> torch.Tensor:
    """(B, L) segment ids (-1 prompt, k branch, -2 padding) -> (B, 1, L, L) additive mask."""
    B, L = segment.shape
    a = torch.arange(L)
    valid = segment > -2                                                           # (B, L)
    causal = (a[None, :] <= a[:, None])[None]                                     # (1, Lq, Lk)
    key, query = segment[:, None, :], segment[:, :, None]
    same = (key == -1) | (key == query)                         # the prompt, or the query's own branch
    allowed = causal & same & valid[:, None, :] & valid[:, :, None]               # (B, Lq, Lk)
    allowed |= torch.eye(L, dtype=torch.bool)[None]          # padding rows see themselves (no NaN)
    mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
    return mask[:, None]
