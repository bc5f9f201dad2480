"""LAAC: every loss and the anchor by hand on a 4-item example, f(s, π), Polyak, the norm projection,
suggestions (pools, cache reuse and invalidation, generation counts), the imbalanced log, seeds."""

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from recrl_core.config import Mode
from recrl_core.methods.laac import adversarial as adv
from recrl_core.methods.laac import experiments, laac_task, suggestions
from recrl_core.rl.targets import polyak_update
from recrl_core.seqrec import heads

# one state, four items: the logged item a_D = 1; the LLM suggests items 2 and 3 (and a pad)
F_VALUES = [[0.5, 1.0, 3.0, 0.2]]
PI = [[0.1, 0.2, 0.3, 0.4]]
ITEMS = [[2, 3, -1]]
WEIGHTS = [[0.5, 0.5, 0.0]]


def _inputs():
    f = torch.tensor(F_VALUES, requires_grad=True)
    pi = torch.tensor(PI, requires_grad=True)
    return f, pi, torch.tensor([1]), torch.tensor(ITEMS), torch.tensor(WEIGHTS)


def test_policy_value_is_the_exact_expectation():
    f, pi, *_ = _inputs()
    assert adv.policy_value(pi, f).item() == pytest.approx(0.05 + 0.2 + 0.9 + 0.08)


def test_reference_value_skips_padding_and_data_reference_is_the_logged_item():
    f, _, action, items, weights = _inputs()
    assert adv.reference_value(f, items, weights).item() == pytest.approx(0.5 * 3.0 + 0.5 * 0.2)
    ref_items, ref_w = adv.Reference().batch({"action": action})
    assert adv.reference_value(f, ref_items, ref_w).item() == pytest.approx(1.0)


def test_anchor_by_hand_touches_only_suggested_items_not_in_the_data():
    f, _, action, items, weights = _inputs()
    hinge = adv.anchor_loss(f, action, items, weights, "hinge")
    assert hinge.item() == pytest.approx(0.5 * (3.0 - 1.0) ** 2)          # item 3 is below f(s, a_D): no pull
    hinge.backward()
    # d/df2 = 0.5 * 2 * (3 - 1) = 2; nothing on the logged item (stop-gradient) nor on unsuggested ones
    assert f.grad.tolist() == [[0.0, 0.0, 2.0, 0.0]]
    f2, _, action, items, weights = _inputs()
    squared = adv.anchor_loss(f2, action, items, weights, "squared")
    assert squared.item() == pytest.approx(0.5 * 2.0 ** 2 + 0.5 * 0.8 ** 2)
    squared.backward()
    assert f2.grad[0].tolist() == pytest.approx([0.0, 0.0, 2.0, -0.8])
    # the logged item among the suggestions is not anchored to itself; padding never is, whatever its weight
    f3, _, action, _, _ = _inputs()
    assert adv.anchor_loss(f3, action, torch.tensor([[1]]), torch.ones(1, 1)).item() == 0.0
    f4 = torch.tensor([[5.0, 1.0, 0.0, 0.0]])                               # padding reads item 0, valued 5
    assert adv.anchor_loss(f4, action, torch.tensor([[-1]]), torch.ones(1, 1), "squared").item() == 0.0
    with pytest.raises(ValueError, match="hinge"):
        adv.anchor_loss(f3, action, items, weights, "cubic")


def test_critic_loss_by_hand_and_its_gradients():
    f, pi, action, items, weights = _inputs()
    target = torch.tensor([0.4], requires_grad=True)
    cfg = adv.LAACConfig(beta=2.0, anchor_weight=0.5)
    parts = adv.critic_loss(f, pi, action, target, items, weights, cfg)
    pess = (0.05 + 0.2 + 0.9 + 0.08) - (1.5 + 0.1)
    bell = (1.0 - 0.4) ** 2
    anchor = 0.5 * 2.0 ** 2
    assert parts["pessimism"].item() == pytest.approx(pess)
    assert parts["bellman"].item() == pytest.approx(bell)
    assert parts["loss"].item() == pytest.approx(pess + 2.0 * bell + 0.5 * anchor)
    parts["loss"].backward()
    # pessimism: pi - mu; Bellman: 2 beta (f(s,a_D) - y) on a_D; anchor: lambda * 2 on item 2
    expected = [0.1, 0.2 + 2.0 * 2 * 0.6, 0.3 - 0.5 + 0.5 * 2.0, 0.4 - 0.5]
    assert f.grad[0].tolist() == pytest.approx(expected)
    assert pi.grad is None and target.grad is None                        # sg(pi), sg(y)


def test_actor_loss_by_hand_holds_the_critic_fixed():
    logits = torch.tensor([[0.0, 1.0, 2.0, 0.5]], requires_grad=True)
    f, _, action, items, weights = _inputs()
    ref_value = adv.reference_value(f, items, weights)
    cfg = adv.LAACConfig(entropy=0.1, bc_weight=0.5)
    parts = adv.actor_loss(logits, f, action, ref_value, cfg, warm=False)
    pi = torch.softmax(logits.detach(), -1)
    v = (pi * torch.tensor(F_VALUES)).sum() - 1.6
    ent = -(pi * pi.log()).sum()
    bc = -pi[0, 1].log()
    assert parts["loss"].item() == pytest.approx((-v - 0.1 * ent + 0.5 * bc).item(), rel=1e-6)
    parts["loss"].backward()
    assert f.grad is None                                                  # the critic is not trained here
    # the advantage term's gradient moves probability towards high f: item 2 (f = 3) gains most
    assert logits.grad[0].argmin().item() == 2
    warm = adv.actor_loss(logits, f, action, ref_value, cfg, warm=True)
    assert warm["loss"].item() == pytest.approx(0.5 * bc.item(), rel=1e-6)


def test_polyak_update_and_norm_projection():
    source, target = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        source.weight.fill_(1.0), source.bias.fill_(2.0), target.weight.fill_(0.0), target.bias.fill_(0.0)
    polyak_update(target, source, 0.25)
    assert target.weight.tolist() == [[0.25, 0.25]] and target.bias.item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="tau"):
        polyak_update(target, source, 0.0)
    with torch.no_grad():
        source.weight.copy_(torch.tensor([[3.0, 4.0]]))
    adv.project_norm(source, 1.0)
    assert source.weight.norm().item() == pytest.approx(1.0)
    assert source.weight[0].tolist() == pytest.approx([0.6, 0.8])
    assert source.bias.item() == pytest.approx(2.0)                        # biases are not projected (lightATAC)
    small = torch.nn.Linear(2, 1)
    with torch.no_grad():
        small.weight.fill_(0.1)
    adv.project_norm(small, 1.0)
    assert small.weight[0].tolist() == pytest.approx([0.1, 0.1])


def test_config_refuses_unknown_choices():
    with pytest.raises(ValueError, match="anchor"):
        adv.LAACConfig(anchor="l1")
    with pytest.raises(ValueError, match="actor_every"):
        adv.LAACConfig(actor_every=0)
    for mode in Mode:                                     # modes change sizes only, never the losses
        cfg = adv.LAACConfig.for_mode(mode)
        assert {f: getattr(cfg, f) for f in vars(cfg) if f not in adv.LAACConfig.SIZE_FIELDS} == \
            {f: getattr(adv.LAACConfig(), f) for f in vars(cfg) if f not in adv.LAACConfig.SIZE_FIELDS}


def _toy_batch(num_items=6, users=3, rows=8, seed=0):
    g = np.random.default_rng(seed)
    state = g.integers(0, num_items, size=(rows, 4))
    t = adv.UserTransitions(
        state=state, len_state=np.full(rows, 4), action=g.integers(0, num_items, rows),
        reward=np.full(rows, 1.0, dtype=np.float32), next_state=state, len_next_state=np.full(rows, 4),
        done=np.zeros(rows, dtype=np.float32), is_purchase=np.ones(rows, dtype=bool),
        user=g.integers(0, users, rows))
    return t


def _learner(seed, reference):
    cfg = heads.EncoderConfig(hidden_size=8)
    critic = heads.make_net(cfg, 6, 1000 + seed)
    actor = heads.make_net(cfg, 6, seed)
    return adv.LAACLearner(critic, actor, reference, adv.LAACConfig(warmup_steps=1, tau=0.5))


def test_learner_steps_are_seeded_and_move_the_target_by_polyak():
    items = np.array([[1, 2], [3, -1], [4, 5]])
    ref = adv.Reference(items, suggestions.reference_weights(items))
    batch = _toy_batch().to_torch()
    a, b = _learner(0, ref), _learner(0, ref)
    before = copy.deepcopy(a.target.state_dict())
    for step in range(3):
        la, lb = a.step(step, batch), b.step(step, batch)
        assert la == lb
    for x, y in zip(a.critic.parameters(), b.critic.parameters()):
        assert torch.equal(x, y)
    assert "actor/bc" in a.step(4, batch) and "actor/bc" not in a.step(5, batch)   # 2 : 1
    moved = [not torch.equal(before[k], v) for k, v in a.target.state_dict().items() if "q." in k]
    assert any(moved)


def test_user_transitions_keep_users_through_take():
    t = _toy_batch()
    sub = t.take(np.array([2, 0]))
    assert isinstance(sub, adv.UserTransitions) and sub.user.tolist() == [t.user[2], t.user[0]]
    with pytest.raises(ValueError, match="users"):
        adv.with_users(t, np.zeros(3))


def test_pools_exclude_seen_items_and_do_not_depend_on_other_users():
    pop = np.arange(20.0)
    seen = [np.array([0, 1, 2]), np.arange(20), np.array([5])]
    pools = suggestions.candidate_pools(seen, pop, size=8, popular_share=0.5, seed=3)
    assert len(pools[0]) == 8 and not set(pools[0]) & {0, 1, 2} and len(set(pools[0])) == 8
    assert len(pools[1]) == 0                                               # saw everything: empty pool
    others = suggestions.candidate_pools([np.array([9]), np.array([], dtype=np.int64), seen[2]], pop, 8, 0.5, 3)
    assert np.array_equal(pools[2], others[2]) and 5 not in pools[2]       # user 2's pool ignores users 0 and 1
    again = suggestions.candidate_pools(seen, pop, 8, 0.5, 3)
    assert all(np.array_equal(x, y) for x, y in zip(pools, again))


def test_reference_weights():
    items = np.array([[4, 7, -1], [-1, -1, -1]])
    assert suggestions.reference_weights(items).tolist() == [[0.5, 0.5, 0.0], [0.0, 0.0, 0.0]]
    rank = suggestions.reference_weights(items, "rank")
    assert rank[0].tolist() == pytest.approx([2 / 3, 1 / 3, 0.0])
    with pytest.raises(ValueError, match="uniform"):
        suggestions.reference_weights(items, "softmax")


def test_parse_lines():
    assert suggestions.parse_lines('1. Heat\n\n- "Up"\n3) Big\n* Her') == ["Heat", "Up", "Big", "Her"]


TITLES = ["Heat (1995)", "Up (2009)", "Big (1988)", "Matrix, The (1999)", "Her (2013)", "Jaws (1975)"]


def test_scoring_route_reuses_and_invalidates_its_cache(tiny_lm, lm_tokenizer, tmp_path, monkeypatch):
    liked = [["Heat (1995)"], []]
    pools = [np.array([1, 2, 3]), np.array([], dtype=np.int64)]
    first = suggestions.score_pools(tiny_lm, lm_tokenizer, "tiny", TITLES, liked, pools, k=2, cache_root=tmp_path)
    assert first.stats["llm_scored"] == 1 and first.stats["empty_pool"] == 1 and first.stats["from_cache"] == 0
    assert first.stats["no_liked_history"] == 1
    assert set(first.items[0]) <= {1, 2, 3} and first.items[1].tolist() == [-1, -1]
    import recrl_core.llm.candidates as cand

    monkeypatch.setattr(cand, "score_candidate_sets", lambda *a, **k: pytest.fail("LLM called on a cached user"))
    again = suggestions.score_pools(tiny_lm, lm_tokenizer, "tiny", TITLES, liked, pools, k=2, cache_root=tmp_path)
    assert again.stats["from_cache"] == 1 and np.array_equal(again.items, first.items)
    monkeypatch.undo()
    other = suggestions.score_pools(tiny_lm, lm_tokenizer, "tiny", TITLES, [["Up (2009)"], []], pools, k=2,
                                    cache_root=tmp_path)
    assert other.stats["llm_scored"] == 1                                  # another prompt: a new entry
    entry = next(tmp_path.rglob("*.json"))
    entry.write_text('{"parts": null, "value": [1.0]}')
    with pytest.raises(ValueError, match="delete the file"):
        suggestions.score_pools(tiny_lm, lm_tokenizer, "tiny", TITLES, liked, pools, 2, cache_root=tmp_path)
        suggestions.score_pools(tiny_lm, lm_tokenizer, "tiny", TITLES, [["Up (2009)"], []], pools, 2,
                                cache_root=tmp_path)


def test_generation_route_counts_what_it_drops(lm_tokenizer, tmp_path, monkeypatch):
    import recrl_core.llm.generation as gen

    replies = ["1. The Matrix\n2. Heat\n3. Zzyzx Road Nowhere\n4. The Matrix", "Sorry, I cannot help."]
    monkeypatch.setattr(gen, "generate_text", lambda model, tok, prompts, settings: replies[:len(prompts)])
    seen = [np.array([0]), np.array([], dtype=np.int64)]
    out, texts = suggestions.generate_suggestions(None, lm_tokenizer, "fake", TITLES, [["Heat (1995)"], []], seen,
                                                  k=3, cache_root=tmp_path, use_embeddings=False)
    s = out.stats
    assert texts == replies and out.items[0].tolist() == [3, -1, -1] and out.items[1].tolist() == [-1, -1, -1]
    assert s["lines"] == 5 and s["exact"] == 3 and s["in_history"] == 1 and s["repeated"] == 1
    assert s["nearest"] == 0 and s["missed"] == 2 and s["no_item"] == 1 and s["llm_calls"] == 2
    monkeypatch.setattr(gen, "generate_text", lambda *a: pytest.fail("generated again"))
    cached, _ = suggestions.generate_suggestions(None, lm_tokenizer, "fake", TITLES, [["Heat (1995)"], []], seen,
                                                 k=3, cache_root=tmp_path, use_embeddings=False)
    assert cached.stats["from_cache"] == 2 and np.array_equal(cached.items, out.items)


def test_imbalance_keeps_the_head_and_thins_the_tail():
    train = pd.DataFrame({"user_idx": np.repeat(np.arange(50), 20),
                          "item_idx": np.r_[np.zeros(500, int), np.arange(500) % 25 + 1]})
    thin = laac_task.imbalance(train, head_share=0.04, tail_keep=0.2, seed=0)   # head = item 0 only
    assert (thin["item_idx"] == 0).sum() == 500
    assert 0.1 < (thin["item_idx"] > 0).sum() / 500 < 0.3
    assert thin.equals(laac_task.imbalance(train, 0.04, 0.2, seed=0))
    with pytest.raises(ValueError, match="tail_keep"):
        laac_task.imbalance(train, 0.2, 0.0, 0)


def test_head_items_and_novel_appeal_lists():
    train = pd.DataFrame({"user_idx": np.zeros(6, int), "item_idx": [3, 3, 3, 1, 1, 7]})
    assert laac_task.head_items(train, 0.34).tolist() == [3] and laac_task.head_items(train, 0.67).tolist() == [1, 3]

    class _Prep:
        num_train_users = 4

        def item_users(self):
            return np.array([1, 2, 3, 4])

    appeal = np.array([[0.9, 0.2, 0.4, 0.6], [0.1, 0.8, 0.3, 0.5]])
    logged = np.array([[True, False, False, False], [False, False, False, True]])
    task = laac_task.Task(_Prep(), ["a", "b", "c", "d"], np.eye(4), appeal, logged, None)
    lists = np.array([[0, 2], [1, -1]])
    q = laac_task.list_quality(lists, task, np.array([0, 1]), {0: {0}, 1: {3}})
    assert q["hit@K"] == 0.5                                  # user 0's held-out item 0 is listed
    assert q["appeal"] == pytest.approx((0.4 + 0.8) / 2)      # item 0 was logged by user 0: not scored
    assert q["share_in_log"] == pytest.approx(1 / 3) and q["popularity"] == pytest.approx((1 + 3 + 2) / 3)
    oracle = laac_task.pick_from_pools([np.array([0, 1, 2]), np.array([1, 3])], task.novel_appeal(), 2, 0)
    assert oracle.tolist() == [[2, 1], [1, -1]]               # logged pairs are never the oracle's pick


class _Fixed:
    def score(self, users, items, lengths):
        return torch.tensor([[4.0, 3.0, 2.0, 1.0]]).expand(len(users), 4).clone()


def test_novel_top_skips_what_the_user_ever_logged():
    logged = np.array([[True, False, True, False], [False, False, False, False]])

    class _Events:
        users, items, lengths = np.array([0, 1]), np.zeros((2, 1), dtype=np.int64), np.ones(2, dtype=np.int64)

        def __len__(self):
            return 2

    top = experiments.novel_top(_Fixed(), _Events(), logged, k=2)
    assert top.tolist() == [[1, 3], [0, 1]]


def test_pick_from_pools_and_top_unseen():
    pools = [np.array([3, 1, 4]), np.array([2])]
    value = np.array([[0, 0.9, 0, 0.1, 0.5], [0, 0, 0.3, 0, 0]])
    assert laac_task.pick_from_pools(pools, value, 2, 0).tolist() == [[1, 4], [2, -1]]
    rand = laac_task.pick_from_pools(pools, None, 2, 0)
    assert set(rand[0]) <= {3, 1, 4} and rand[1].tolist() == [2, -1]
    top = laac_task.top_unseen(np.array([5.0, 4, 3, 2, 1]), [np.array([0]), np.array([1, 2])], 2)
    assert top.tolist() == [[1, 2], [0, 3]]


class _Flat:
    def score(self, users, items, lengths):
        return torch.arange(5, dtype=torch.float32).flip(0).expand(len(users), 5).clone()   # item 0 best


def test_suggestions_first_puts_suggestions_in_order_then_the_fallback():
    scorer = experiments.SuggestionsFirst(np.array([[3, 4, -1], [-1, -1, -1]]), _Flat())
    s = scorer.score(torch.tensor([0, 1]), torch.zeros(2, 1, dtype=torch.long), torch.ones(2, dtype=torch.long))
    assert s[0].argsort(descending=True).tolist() == [3, 4, 0, 1, 2]
    assert s[1].argsort(descending=True).tolist() == [0, 1, 2, 3, 4]


def test_unknown_method_or_log_is_refused():
    with pytest.raises(ValueError, match="laac"):
        experiments.run(experiments.RunJob("dqn", "balanced", 0, None))

    class _Shared:
        transitions = {"balanced": None}

    with pytest.raises(ValueError, match="balanced"):
        experiments.run(experiments.RunJob("ce", "balnced", 0, _Shared()))


class _Critic:
    """f(s, a) = a + 10 * (first item of the state): a critic whose values are known by hand."""

    def q_values(self, items, lengths):
        return torch.arange(4, dtype=torch.float32)[None] + 10.0 * items[:, :1].float()


def test_critic_values_pair_each_state_with_its_user_and_logged_action():
    t = adv.UserTransitions(state=np.array([[1, 0], [2, 0]]), len_state=np.array([1, 1]), action=np.array([3, 0]),
                            reward=np.zeros(2, np.float32), next_state=np.zeros((2, 2), int), len_next_state=np.ones(2, int),
                            done=np.zeros(2, np.float32), is_purchase=np.zeros(2, bool), user=np.array([1, 0]))
    suggested = np.array([[1, -1], [3, 2]])                     # user 0: item 1; user 1: items 3 (logged) and 2
    appeal = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]])
    v = experiments.critic_values(_Critic(), t, np.array([0, 1]), suggested, appeal)
    assert v["data_f"].tolist() == [13.0, 20.0] and v["data_p"].tolist() == [0.8, 0.1]
    # row 0 (user 1, logged 3): only item 2 counts; row 1 (user 0, logged 0): item 1
    assert v["llm_f"].tolist() == [12.0, 21.0] and v["llm_p"].tolist() == [0.7, 0.2]


def test_evaluate_policy_scores_novel_lists_with_the_truth():
    from recrl_core.data.sequences import EvalEvents
    from recrl_core.eval import offline

    events = EvalEvents(users=np.array([0, 1]), items=np.array([[3], [3]]), lengths=np.array([1, 1]),
                        target=np.array([0, 2]), behaviour=np.array(["purchase", "click"]), time=np.zeros(2))
    appeal = np.array([[0.1, 0.2, 0.3, 0.4, 0.5], [0.9, 0.8, 0.7, 0.6, 0.5]])
    logged = np.zeros((2, 5), bool)
    logged[0, 0] = True                                          # user 0 logged item 0: skipped by the novel list
    sh = experiments.Shared(transitions={}, val=events, test=events, references={}, appeal=appeal, world_logged=logged,
                            item_users=np.ones(5, int), num_train_users=2, genre_vectors=np.eye(5),
                            text_vectors=np.eye(5), probe={}, encoder=None, supervised=None, sqn=None, laac=None,
                            eval_cfg=offline.EvalConfig(mask_history=True))

    class _Ranker:
        def score(self, users, items, lengths):
            return torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0]]).expand(len(users), 5).clone()

    m = experiments.evaluate_policy(_Ranker(), sh, k=2)
    assert m["hr@2/purchase"] == 1.0 and m["hr@2/click"] == 0.0     # item 0 is first; item 2 is third
    # novel top-2: user 0 -> items 1, 2 (0 logged); user 1 -> items 0, 1
    assert m["appeal@2"] == pytest.approx((0.2 + 0.3 + 0.9 + 0.8) / 4)
