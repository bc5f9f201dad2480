"""LEA's LLM environment: item tokens, the tree pass, L_SM / L_RM, the cached offline pass."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")
pytest.importorskip("peft")

from recrl_core.methods.lea import environment as envm  # noqa: E402
from recrl_core.methods.lea import item_tokens as itok  # noqa: E402
from recrl_core.methods.lea import offline_pass  # noqa: E402
from recrl_core.methods.lea.lea_task import new_environment  # noqa: E402
from recrl_core.methods.shielded.shields import fingerprint  # noqa: E402

NAMES = ["Oasis", "Blur", "Pulp", "Suede", "Radiohead", "Coldplay", "Muse", "Keane"]
DETAILS = ["an artist tagged britpop"] * 4 + ["an artist tagged rock"] * 4
N_ITEMS = len(NAMES)


@pytest.fixture()
def lm(tiny_lm):
    return tiny_lm


def test_item_token_training_touches_only_the_new_embeddings(lm, lm_tokenizer):
    before = fingerprint(lm)
    cfg = itok.ItemTokenConfig(epochs=3, batch_size=4, lr=5e-2)
    init = itok.init_item_tokens(lm, lm_tokenizer, itok.item_sentences(NAMES, DETAILS), cfg).weight.detach().clone()
    tokens, log = itok.fit_item_tokens(lm, lm_tokenizer, NAMES, DETAILS, cfg)
    assert fingerprint(lm) == before                               # the LM did not move, bit for bit
    assert not torch.equal(tokens.weight, init)                    # E_I did
    assert all(not p.requires_grad for p in lm.parameters())
    assert log["loss"].iloc[-1] < log["loss"].iloc[0]              # L_tok went down


def test_text_mean_init_is_the_mean_of_the_sentence_embeddings(lm, lm_tokenizer):
    sentences = itok.item_sentences(["Oasis", "Blur"], ["an artist tagged britpop", ""])
    assert sentences == [" is Oasis, an artist tagged britpop.", " is Blur."]
    tokens = itok.init_item_tokens(lm, lm_tokenizer, sentences, itok.ItemTokenConfig())
    for row, sentence in enumerate(sentences):
        ids = lm_tokenizer(sentence, add_special_tokens=False)["input_ids"]
        torch.testing.assert_close(tokens.weight[row], lm.get_input_embeddings().weight[ids].mean(0))
    cut = itok.init_item_tokens(lm, lm_tokenizer, sentences[:1], itok.ItemTokenConfig(max_text_tokens=2))
    ids = lm_tokenizer(sentences[0], add_special_tokens=False)["input_ids"][:2]
    torch.testing.assert_close(cut.weight[0], lm.get_input_embeddings().weight[ids].mean(0))


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
    tokens = itok.init_item_tokens(lm, tok, itok.item_sentences(NAMES[:n], DETAILS[:n]), itok.ItemTokenConfig())
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
    cfg = offline_pass.PassConfig(candidates=3, random_candidates=1, aug_k_max=1, batch_size=2)
    calls = {"n": 0}
    real = env.hidden

    def counting(tree):
        calls["n"] += 1
        return real(tree)

    monkeypatch.setattr(env, "hidden", counting)
    first = offline_pass.cached_pass(env, users, items, cfg, context=4, cache_root=tmp_path)
    assert calls["n"] > 0 and not first.cached
    calls["n"] = 0
    again = offline_pass.cached_pass(env, users, items, cfg, context=4, cache_root=tmp_path)
    assert calls["n"] == 0 and again.cached                  # no LM call on a re-run
    for name in offline_pass.FIELDS:
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    changed = offline_pass.cached_pass(env, users, items, replace(cfg, seed=1), context=4, cache_root=tmp_path)
    assert calls["n"] > 0 and not changed.cached             # a new config recomputes
    calls["n"] = 0
    with torch.no_grad():
        env.reward_head.bias += 1.0                           # new LE weights: a new key too
    offline_pass.cached_pass(env, users, items, cfg, context=4, cache_root=tmp_path)
    assert calls["n"] > 0


def test_augmented_actions_exclude_the_history(lm, lm_tokenizer):
    env = _env(lm, lm_tokenizer)
    users, items = _sequences()
    cfg = offline_pass.PassConfig(candidates=2, random_candidates=1, aug_k_max=2, batch_size=2)
    res = offline_pass.run_pass(env, users, items, cfg, context=3)     # chunks cut histories: exclusion must not
    for row in range(len(items)):
        start = np.flatnonzero(users == users[row])[0]
        history = set(items[start:row + 1].tolist())              # earlier items and the logged one
        assert not history & set(res.aug_actions[row].tolist())
    loose = offline_pass.run_pass(env, users, items, replace(cfg, exclude_history=False), context=3)
    assert all(items[r] not in loose.aug_actions[r] for r in range(len(items)))   # never the logged item
    # the stored rewards are the best candidates' r^LE, best first
    assert np.all(res.aug_reward[:, 0] >= res.aug_reward[:, 1])


def test_pass_state_equals_a_direct_state_model_call(lm, lm_tokenizer):
    env = _env(lm, lm_tokenizer)
    users, items = _sequences()
    cfg = offline_pass.PassConfig(candidates=2, random_candidates=1, aug_k_max=1, batch_size=3)
    res = offline_pass.run_pass(env, users, items, cfg, context=4)
    row = 9                                                   # user 1, second chunk? user 1 starts at 7
    seq = items[7:12]
    p = row - 7                                               # position 2 in the user's first chunk
    ids = torch.cat([env.prefix, env.item_tokens.ids(seq[:p])])[None]
    with torch.no_grad():
        h = env.hidden({"ids": ids, "mask": None, "position_ids": torch.arange(ids.shape[1])[None]})
        np.testing.assert_allclose(res.le_state[row], env.states(h[0, -1]).numpy(), atol=1e-5)
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


# ---- the frozen trunk: cached lower layers + adapted top == the whole decoder


def _env_top(lm, tok, adapt_layers):
    tokens = itok.init_item_tokens(lm, tok, itok.item_sentences(NAMES, DETAILS), itok.ItemTokenConfig())
    env = new_environment(lm, tok, tokens, envm.LEConfig(state_dim=8, adapt_layers=adapt_layers)).eval()
    with torch.no_grad():                                   # a non-zero adapter, so the top really differs
        for name, p in env.lm.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.2)
    return env


@pytest.mark.parametrize("adapt_layers", [None, 1, 2])
def test_top_on_a_cached_trunk_equals_the_whole_decoder(lm, lm_tokenizer, adapt_layers):
    env = _env_top(lm, lm_tokenizer, adapt_layers)
    assert env.split == {None: 0, 1: 1, 2: 0}[adapt_layers]
    tree = envm.chunk_tree(env, [np.array([0, 3, 5, 1]), np.array([2, 7])],
                           [np.array([[2, 4], [6, 7], [1, 2], [0, 5]]), np.array([[1, 3], [4, 6]])])
    with torch.no_grad():
        whole = env.hidden(tree)
        cached = env.trunk(tree)
        assert not cached.hidden.requires_grad
        torch.testing.assert_close(env.top(cached), whole, atol=1e-5, rtol=1e-4)


def test_adapters_sit_only_on_the_top_layers_and_only_they_learn(lm, lm_tokenizer):
    env = _env_top(lm, lm_tokenizer, adapt_layers=1)
    lora = [n for n, p in env.lm.named_parameters() if p.requires_grad]
    assert lora and all(".layers.1." in n and "lora_" in n for n in lora)
    batches = envm.make_batches(env, envm.chunks_of({0: np.array([0, 1, 2, 3, 4])}, 5), {0: {0, 1, 2, 3, 4}},
                                envm.LEConfig(state_dim=8, adapt_layers=1), np.random.default_rng(0))
    envm.le_loss(env, batches[0], {0: {0, 1, 2, 3, 4}}, envm.LEConfig(state_dim=8, adapt_layers=1),
                 np.random.default_rng(1))["loss"].backward()
    got = {n for n, p in env.lm.named_parameters() if p.grad is not None}
    assert got == set(lora)                                  # every adapter of the top layer, nothing else
    assert env.reward_head.weight.grad is not None and env.item_tokens.weight.grad is None


def test_le_loss_by_hand_on_the_whole_decoder(lm, lm_tokenizer):
    env = _env_top(lm, lm_tokenizer, adapt_layers=1)
    cfg = envm.LEConfig(state_dim=8, adapt_layers=1, rm_negatives=2, state_negatives=3)
    seqs = {0: np.array([0, 1, 2, 3, 4]), 1: np.array([5, 6, 7])}
    seen = {u: set(s.tolist()) for u, s in seqs.items()}
    batch = envm.make_batches(env, envm.chunks_of(seqs, 4), seen, cfg, np.random.default_rng(0))[0]
    assert [n.shape for n in batch.rm_neg] == [(4, 2), (1, 2), (3, 2)]
    for (u, _, _), neg in zip(batch.chunks, batch.rm_neg):
        assert not set(neg.ravel().tolist()) & seen[u]
    with torch.no_grad():
        lib = envm.le_loss(env, batch, seen, cfg, np.random.default_rng(5))
        rng = np.random.default_rng(5)                       # the same L_SM draws, in the same order
        h = env.hidden(envm.chunk_tree(env, [c for _, _, c in batch.chunks], batch.rm_neg))
        u_vec, P, Lm, sm, rm = env.item_vectors(), len(env.prefix), batch.main_width, [], []
        for b, (u, _, c) in enumerate(batch.chunks):
            neg = envm.sample_unseen(N_ITEMS, seen[u], len(c) * 3, rng).reshape(len(c), 3)
            for p in range(len(c)):
                s = env.states(h[b, P - 1 + p])
                sm.append(-torch.nn.functional.logsigmoid(s @ u_vec[c[p]] - u_vec[neg[p]] @ s).mean())
                r_neg = env.rewards(h[b, Lm + 2 * p:Lm + 2 * p + 2])
                rm.append(-torch.nn.functional.logsigmoid(env.rewards(h[b, P + p]) - r_neg).mean())
    by_hand = torch.stack(sm).mean() + cfg.lambda_rm * torch.stack(rm).mean()
    torch.testing.assert_close(lib["loss"], by_hand, atol=1e-5, rtol=1e-4)


def test_trunk_errors():
    from recrl_core.llm import trunk

    assert trunk.split_index(30, None) == 0 and trunk.split_index(30, 4) == 26
    with pytest.raises(ValueError, match=r"adapt_layers must be in \[1, 30\]"):
        trunk.split_index(30, 31)
    with pytest.raises(ValueError, match="Llama-style"):
        trunk.decoder_layers(torch.nn.Linear(2, 2))


def test_popularity_negatives_follow_the_counts_and_skip_the_history():
    from recrl_core.methods.lea import environment_eval

    counts, rng = np.array([0, 1, 3, 0, 6]), np.random.default_rng(0)
    draws = np.array([environment_eval.sample_popular(counts, {4}, rng) for _ in range(4000)])
    assert set(draws.tolist()) == {1, 2}                                   # never seen, never a zero count
    assert np.mean(draws == 2) == pytest.approx(0.75, abs=0.03)            # 3 / (1 + 3)
    with pytest.raises(ValueError, match="positive count"):
        environment_eval.sample_popular(counts, {1, 2, 4}, rng)


def test_evaluate_scores_popularity_at_chance_on_popularity_negatives(lm, lm_tokenizer):
    from recrl_core.data.sequences import EvalEvents
    from recrl_core.methods.lea import environment_eval

    env = _env(lm, lm_tokenizer)
    rng = np.random.default_rng(1)
    m = 200
    counts = np.array([50, 40, 30, 20, 10, 5, 3, 1])
    target = rng.choice(8, size=m, p=counts / counts.sum())                # choices follow popularity
    items = np.full((m, 3), 8)
    items[:, 0] = (target + 1) % 8
    events = EvalEvents(users=np.arange(m), items=items, lengths=np.ones(m, dtype=int), target=target,
                        behaviour=np.full(m, "click"), time=np.arange(m))
    cfg = envm.LEConfig(eval_events=m, context=3)
    uniform = environment_eval.evaluate_environment(env, events, counts, cfg)
    matched = environment_eval.evaluate_environment(env, events, counts, cfg, negatives="popularity")
    assert uniform["pop_accuracy"] > 0.6                                   # popular positives vs uniform negatives
    assert abs(matched["pop_accuracy"] - 0.5) < 0.1                        # same distribution on both sides
    for res in (uniform, matched):
        assert all(0.0 <= res[k] <= 1.0 for k in ("rm_accuracy", "rm_auc", "state_hr@10", "state_ndcg@10"))
    with pytest.raises(ValueError, match="uniform"):
        environment_eval.evaluate_environment(env, events, counts, cfg, negatives="hard")
