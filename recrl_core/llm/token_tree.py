"""Token trees: many prompts that share a prefix, scored in one forward pass.

A batch row holds a main sequence ``[prefix, chunk]`` and, after it, single **branch
tokens** that each see only a prefix of the main sequence (a tree-shaped additive
attention mask) and take the position id right after it. A branch's last hidden state
then equals that of its own prompt ``main[: parent + 1] + [branch]`` run alone — one
token per extra prompt instead of a whole prompt (tested against separate prompts).

Taught in: sec-llm-environment
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
