"""Multi-token branches behind per-row prompts (llm.token_tree.branch_batch)."""

import pytest
import torch

from recrl_core.llm.token_tree import branch_batch

NEG = torch.finfo(torch.float32).min


def _t(*ids):
    return torch.tensor(ids, dtype=torch.long)


def test_branch_batch_layout_positions_and_bookkeeping():
    tree = branch_batch([_t(5, 6, 7), _t(8)], [[_t(11, 12), _t(13)], [_t(14, 15, 16)]])
    assert tree["ids"].tolist() == [[5, 6, 7, 11, 12, 13], [8, 14, 15, 16, 0, 0]]
    assert tree["position_ids"].tolist() == [[0, 1, 2, 3, 4, 3], [0, 1, 2, 3, 0, 0]]
    assert tree["token_row"].tolist() == [0, 0, 0, 1, 1, 1]
    assert tree["token_col"].tolist() == [3, 4, 5, 1, 2, 3]
    assert tree["pred_col"].tolist() == [2, 3, 2, 0, 1, 2]        # a branch's first token: the prompt end
    assert tree["token_branch"].tolist() == [0, 0, 1, 2, 2, 2]
    assert tree["mask"].shape == (2, 1, 6, 6)
    allowed = (tree["mask"][:, 0] == 0).int().tolist()
    assert allowed[0] == [[1, 0, 0, 0, 0, 0],
                          [1, 1, 0, 0, 0, 0],
                          [1, 1, 1, 0, 0, 0],
                          [1, 1, 1, 1, 0, 0],
                          [1, 1, 1, 1, 1, 0],
                          [1, 1, 1, 0, 0, 1]]                     # branch 1 sees the prompt, not branch 0
    assert allowed[1] == [[1, 0, 0, 0, 0, 0],
                          [1, 1, 0, 0, 0, 0],
                          [1, 1, 1, 0, 0, 0],
                          [1, 1, 1, 1, 0, 0],
                          [0, 0, 0, 0, 1, 0],                     # padding: itself only
                          [0, 0, 0, 0, 0, 1]]
    assert set(tree["mask"].unique().tolist()) == {0.0, NEG}


def test_empty_prompt_is_rejected():
    with pytest.raises(ValueError, match="at least one token"):
        branch_batch([_t()], [[_t(1)]])


def _logits(lm, tree):
    with torch.no_grad():
        return lm(input_ids=tree["ids"], attention_mask=tree["mask"], position_ids=tree["position_ids"]).logits


def test_branch_logits_equal_separate_prompts(tiny_lm):
    prompts = [_t(*range(10, 19)), _t(40, 41, 42, 43)]
    branches = [[_t(100, 101, 102), _t(200), _t(300, 301)], [_t(400, 401, 402, 403, 404)]]
    tree = branch_batch(prompts, branches)
    logits = _logits(tiny_lm, tree)                                                 # (B, L, V)
    got = logits[tree["token_row"], tree["pred_col"]]                              # (N, V)
    token = 0
    for b, row in enumerate(branches):
        for branch in row:
            alone = torch.cat([prompts[b], branch])[None]
            with torch.no_grad():
                ref = tiny_lm(input_ids=alone).logits[0, len(prompts[b]) - 1:-1]   # (n, V) predicting it
            torch.testing.assert_close(got[token:token + len(branch)], ref, atol=1e-5, rtol=1e-4)
            token += len(branch)
    assert token == len(tree["token_row"])


def test_a_branch_does_not_see_its_siblings(tiny_lm):
    prompt = _t(*range(10, 22))
    first = branch_batch([prompt], [[_t(100, 101, 102), _t(200, 201), _t(300)]])
    second = branch_batch([prompt], [[_t(100, 101, 102), _t(900, 901), _t(300)]])   # sibling changed
    a, b = _logits(tiny_lm, first)[0], _logits(tiny_lm, second)[0]                  # (L, V)
    torch.testing.assert_close(a[:3 + 12], b[:3 + 12], atol=1e-6, rtol=0)          # prompt, branch 0
    torch.testing.assert_close(a[-1], b[-1], atol=1e-6, rtol=0)                     # branch 2
    assert (a[12 + 3:12 + 5] - b[12 + 3:12 + 5]).abs().max() > 1e-3                 # the changed one moves
