"""LEA's LLM environment: item tokens, the tree pass, L_SM / L_RM, the cached offline pass."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from recrl_core.llm import environment as envm  # noqa: E402
from recrl_core.llm import item_tokens as itok  # noqa: E402
from recrl_core.llm import le_pass  # noqa: E402
from recrl_core.llm.lea_task import new_environment  # noqa: E402
from recrl_core.train.shield import fingerprint  # noqa: E402

NAMES = ["Oasis", "Blur", "Pulp", "Suede", "Radiohead", "Coldplay", "Muse", "Keane"]
DETAILS = ["an artist tagged britpop"] * 4 + ["an artist tagged rock"] * 4


@pytest.fixture()
def lm(tiny_lm):
    return tiny_lm


def test_item_token_training_touches_only_the_new_embeddings(lm, lm_tokenizer):
    before = fingerprint(lm)
    cfg = itok.ItemTokenConfig(epochs=3, batch_size=4, lr=5e-2)
    init = itok.init_item_tokens(lm, lm_tokenizer, NAMES, cfg).weight.detach().clone()
    tokens, log = itok.fit_item_tokens(lm, lm_tokenizer, NAMES, DETAILS, cfg)
    assert fingerprint(lm) == before                               # the LM did not move, bit for bit
    assert not torch.equal(tokens.weight, init)                    # E_I did
    assert all(not p.requires_grad for p in lm.parameters())
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]              # L_tok went down


def test_text_mean_init_is_the_mean_of_the_name_embeddings(lm, lm_tokenizer):
    tokens = itok.init_item_tokens(lm, lm_tokenizer, ["Oasis"], itok.ItemTokenConfig())
    ids = lm_tokenizer(" Oasis", add_special_tokens=False)["input_ids"]
    expected = lm.get_input_embeddings().weight[ids].mean(0)
    torch.testing.assert_close(tokens.weight[0], expected)


def test_mixed_ids_read_items_from_the_new_table(lm):
    tokens = itok.ItemTokens(3, lm.config.hidden_size, lm.config.vocab_size)
    tokens.weight.data = torch.arange(3 * lm.config.hidden_size, dtype=torch.float32).view(3, -1)
    ids = torch.tensor([[5, int(tokens.ids(2))]])
    emb = tokens.embed(lm, ids)
    torch.testing.assert_close(emb[0, 0], lm.get_input_embeddings().weight[5])
    torch.testing.assert_close(emb[0, 1], tokens.weight[2])
    with pytest.raises(ValueError, match="out of range"):
        tokens.ids(3)


def test_state_and_reward_losses_by_hand():
    s = torch.tensor([[1.0, 0.0]])
    pos, neg = torch.tensor([[2.0, 0.0]]), torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])
    # pairwise: mean_k -log sigma(2 - <s, u_k>) over <s,u> = 0 and 1
    expected = 0.5 * (-math.log(1 / (1 + math.exp(-2))) - math.log(1 / (1 + math.exp(-1))))
    assert envm.state_loss(s, pos, neg, "pairwise").item() == pytest.approx(expected, rel=1e-6)
    # InfoNCE: -log e^2 / (e^2 + e^0 + e^1)
    infonce = -math.log(math.exp(2) / (math.exp(2) + 1 + math.exp(1)))
    assert envm.state_loss(s, pos, neg, "infonce").item() == pytest.approx(infonce, rel=1e-6)
    r = envm.reward_loss(torch.tensor([1.5, 0.0]), torch.tensor([0.5, 2.0]))
    torch.testing.assert_close(r, torch.tensor([-math.log(1 / (1 + math.exp(-1.0))),
                                                -math.log(1 / (1 + math.exp(2.0)))]))
    with pytest.raises(ValueError, match="pairwise"):
        envm.state_loss(s, pos, neg, "cosine")


def _env(lm, tok, n=len(NAMES), seed=0):
    tokens = itok.init_item_tokens(lm, tok, NAMES[:n], itok.ItemTokenConfig())
    return new_environment(lm, tok, tokens, envm.LEConfig(state_dim=8, seed=seed)).eval()


def test_branch_tokens_equal_separate_reward_prompts(lm, lm_tokenizer):
    env = _env(lm, lm_tokenizer)
    with torch.no_grad():                                   # give LoRA a non-zero update
        for name, p in env.lm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    chunk = np.array([0, 3, 5, 1])
    cands = np.array([[2, 4], [6, 7], [1, 2], [0, 5]])      # (c, m): alternatives per position
    tree = envm.chunk_tree(env, [chunk], [cands])
    with torch.no_grad():
        h = env.hidden(tree)
        Lm, P = tree["main_width"], len(env.prefix)
        for p in range(len(chunk)):
            for j in range(2):
                ids = torch.cat([env.prefix, env.item_tokens.ids(np.r_[chunk[:p], cands[p, j]])])[None]
                one = env.hidden({"ids": ids, "mask": None, "position_ids": torch.arange(ids.shape[1])[None]})
                torch.testing.assert_close(h[0, Lm + 2 * p + j], one[0, -1], atol=1e-5, rtol=1e-4)
        # the logged item's reward prompt is the chunk itself
        ids = torch.cat([env.prefix, env.item_tokens.ids(chunk[:3])])[None]
        one = env.hidden({"ids": ids, "mask": None, "position_ids": torch.arange(ids.shape[1])[None]})
        torch.testing.assert_close(h[0, P + 2], one[0, -1], atol=1e-5, rtol=1e-4)


def _sequences():
    users = np.repeat([0, 1, 2], [7, 5, 6])
    rng = np.random.default_rng(0)
    items = np.concatenate([rng.permutation(len(NAMES))[:k] for k in (7, 5, 6)])
    return users, items


def test_pass_is_cached_and_invalidated_by_config(lm, lm_tokenizer, tmp_path, monkeypatch):
    env = _env(lm, lm_tokenizer)
    users, items = _sequences()
    cfg = le_pass.PassConfig(candidates=3, random_candidates=1, aug_k_max=1, batch_size=2)
    calls = {"n": 0}
    real = env.hidden

    def counting(tree):
        calls["n"] += 1
        return real(tree)

    monkeypatch.setattr(env, "hidden", counting)
    first = le_pass.cached_pass(env, users, items, cfg, context=4, cache_root=tmp_path)
    assert calls["n"] > 0 and not first.cached
    calls["n"] = 0
    again = le_pass.cached_pass(env, users, items, cfg, context=4, cache_root=tmp_path)
    assert calls["n"] == 0 and again.cached                  # no LM call on a re-run
    for name in le_pass.FIELDS:
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    changed = le_pass.cached_pass(env, users, items, replace(cfg, seed=1), context=4, cache_root=tmp_path)
    assert calls["n"] > 0 and not changed.cached             # a new config recomputes
    calls["n"] = 0
    with torch.no_grad():
        env.reward_head.bias += 1.0                           # new LE weights: a new key too
    le_pass.cached_pass(env, users, items, cfg, context=4, cache_root=tmp_path)
    assert calls["n"] > 0


def test_augmented_actions_exclude_the_history(lm, lm_tokenizer):
    env = _env(lm, lm_tokenizer)
    users, items = _sequences()
    cfg = le_pass.PassConfig(candidates=2, random_candidates=1, aug_k_max=2, batch_size=2)
    res = le_pass.run_pass(env, users, items, cfg, context=3)     # chunks cut histories: exclusion must not
    for row in range(len(items)):
        start = np.flatnonzero(users == users[row])[0]
        history = set(items[start:row + 1].tolist())              # earlier items and the logged one
        assert not history & set(res.aug_actions[row].tolist())
    loose = le_pass.run_pass(env, users, items, replace(cfg, exclude_history=False), context=3)
    assert all(items[r] not in loose.aug_actions[r] for r in range(len(items)))   # never the logged item
    # the stored rewards are the best candidates' r^LE, best first
    assert np.all(res.aug_reward[:, 0] >= res.aug_reward[:, 1])


def test_pass_state_equals_a_direct_state_model_call(lm, lm_tokenizer):
    env = _env(lm, lm_tokenizer)
    users, items = _sequences()
    cfg = le_pass.PassConfig(candidates=2, random_candidates=1, aug_k_max=1, batch_size=3)
    res = le_pass.run_pass(env, users, items, cfg, context=4)
    row = 9                                                   # user 1, second chunk? user 1 starts at 7
    seq = items[7:12]
    p = row - 7                                               # position 2 in the user's first chunk
    ids = torch.cat([env.prefix, env.item_tokens.ids(seq[:p])])[None]
    with torch.no_grad():
        h = env.hidden({"ids": ids, "mask": None, "position_ids": torch.arange(ids.shape[1])[None]})
        np.testing.assert_allclose(res.le_state[row], env.state_proj(h[0, -1]).numpy(), atol=1e-5)
        logged = env.rewards(env.hidden({"ids": torch.cat([ids, env.item_tokens.ids(seq[p:p + 1])[None]], 1),
                                         "mask": None, "position_ids": torch.arange(ids.shape[1] + 1)[None]})[0, -1])
    assert res.le_reward[row] == pytest.approx(float(logged), abs=1e-5)


def test_le_training_separates_positives_on_a_learnable_toy(lm, lm_tokenizer):
    # next item = previous + 1 (mod 8): the reward model should learn to prefer it
    seqs = {u: (np.arange(6) + u) % len(NAMES) for u in range(32)}   # 2 unseen items each
    env = _env(lm, lm_tokenizer)
    cfg = envm.LEConfig(epochs=6, batch_size=4, context=6, lr=1e-3, head_lr=3e-2, state_dim=8,
                        state_negatives=2)
    log = envm.fit_environment(env, seqs, cfg)
    first, last = log.head(4)["rm"].mean(), log.tail(4)["rm"].mean()
    assert last < first - 0.1, (first, last)
    assert log["sm"].tail(4).mean() < log["sm"].head(4).mean()


def test_sample_unseen_and_errors():
    rng = np.random.default_rng(0)
    got = envm.sample_unseen(5, {0, 1, 2}, 50, rng)
    assert set(got.tolist()) <= {3, 4}
    with pytest.raises(ValueError, match="seen all"):
        envm.sample_unseen(3, {0, 1, 2}, 1, rng)
