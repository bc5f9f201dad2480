"""iALP / A-iALP: teacher quality by hand, candidate pools, the reward model, the learned user model, the mixture."""

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from recrl_core.config import Mode
from recrl_core.envs import interest, session
from recrl_core.methods.ialp import adaptation, ialp_task, labels, learned_env, reward_model
from recrl_core.rl import actor_critic
from recrl_core.train import online


@pytest.fixture(scope="module")
def env():
    """The interest-evolution environment at smoke sizes, with its behaviour logs."""
    return ialp_task.make_environment("interest", Mode.SMOKE, data_dir=None)


def test_teacher_quality_by_hand_on_three_candidates():
    truth = np.array([[0.1, 0.5, 0.3], [0.2, 0.2, 0.8]])
    scores = np.array([[3.0, 1.0, 2.0], [0.0, 1.0, 5.0]])         # row 0 picks the 0.1 item, row 1 the best
    q = labels.teacher_quality(scores, truth)
    mean = (0.3 + 0.4) / 2
    assert q["choice_p"] == pytest.approx((0.1 + 0.8) / 2)
    assert q["mean_p"] == pytest.approx(mean) and q["best_p"] == pytest.approx((0.5 + 0.8) / 2)
    assert q["lift"] == pytest.approx(((0.1 - 0.3) + (0.8 - 0.4)) / 2 / ((0.5 - 0.3 + 0.8 - 0.4) / 2))
    assert q["top1"] == pytest.approx(0.5)
    # rank correlation: row 0 ranks (3, 1, 2) vs truth (1, 3, 2) -> -1; row 1 (1, 2, 3) vs (1.5, 1.5, 3) -> sqrt(3)/2
    assert q["rank_corr"] == pytest.approx((-1.0 + np.sqrt(3) / 2) / 2)


def test_labels_are_the_top_k_with_ties_to_the_first():
    scores = np.array([[0.2, 0.9, 0.9, 0.1]])
    assert labels.labels_from_scores(scores, 1).tolist() == [[0, 1, 0, 0]]
    assert labels.labels_from_scores(scores, 2).tolist() == [[0, 1, 1, 0]]


def test_candidate_pools_are_distinct_unseen_and_mixed(rng):
    n = 30
    seen = np.zeros((4, n), dtype=bool)
    seen[:, :10] = True                                                   # the 10 most popular are seen
    popularity = np.arange(n, 0, -1).astype(float)
    base = np.tile(np.arange(n, dtype=float), (4, 1))                     # the base recommender loves item 29
    cfg = labels.LabelConfig(candidates=10, popular_share=0.3, base_share=0.3)
    pools = labels.candidate_pools(seen, popularity, base, cfg, rng)
    assert pools.shape == (4, 10)
    for pool in pools:
        assert len(set(pool)) == 10 and (pool >= 10).all()                # distinct and never seen
        assert {29, 28, 27} <= set(pool)                                  # the base recommender's best three
    with pytest.raises(ValueError, match="fewer than the 10 candidates"):
        labels.candidate_pools(np.ones((1, n), dtype=bool), popularity, base[:1], cfg, rng)


def test_noisy_truth_moves_from_truth_to_random(env, rng):
    rows = np.arange(20)
    pools = np.tile(np.arange(8), (20, 1)) + np.arange(20)[:, None] % 3
    truth = np.take_along_axis(env.logs.true_probs[rows], pools, axis=1)
    exact = labels.heuristic_scores("noisy-truth", env, rows, pools, labels.LabelConfig(noise=0.0), rng)
    assert (exact.argmax(1) == truth.argmax(1)).all()
    with pytest.raises(ValueError, match="choose one of: llm, popularity"):
        labels.heuristic_scores("oracle", env, rows, pools, labels.LabelConfig(), rng)


def test_reward_loss_is_bce_on_the_labelled_candidates():
    logits = torch.tensor([[2.0, -1.0, 0.0, 0.5]], requires_grad=True)
    pools, target = torch.tensor([[0, 2]]), torch.tensor([[1.0, 0.0]])
    loss = reward_model.reward_loss(logits, pools, target)
    by_hand = (np.log(1 + np.exp(-2.0)) + np.log(1 + np.exp(0.0))) / 2
    assert loss.item() == pytest.approx(by_hand)
    grad = torch.autograd.grad(loss, logits)[0]
    assert grad[0, 0] < 0 and grad[0, 2] > 0 and grad[0, 1] == 0 and grad[0, 3] == 0   # up the chosen, down the other


def test_reward_model_learns_the_labels(env):
    rows = np.arange(min(40, len(env.logs)))
    pools = np.tile(np.arange(6), (len(rows), 1))
    labels_ = np.zeros(pools.shape)
    labels_[:, 3] = 1.0                                                   # item 3 is always chosen
    cfg = dataclasses.replace(reward_model.RewardModelConfig.for_mode(Mode.SMOKE), epochs=40, holdout=0.0)
    model, log, held = reward_model.fit_reward_model(env.logs, rows, pools, labels_, env.num_items, cfg,
                                                     env.item_features)
    assert log["train_loss"].iloc[-1] < log["train_loss"].iloc[0] and not held.any()
    probs = reward_model.score_states(model, env.logs, rows)[:, :6]
    assert (probs.argmax(axis=1) == 3).all()


class _ConstantReward:
    def __init__(self, p):
        self.p = p

    def rewards(self, items, feedback, lengths, starts, actions):
        return self.p[actions]


def test_learned_env_consumes_above_threshold_and_truncates(env):
    p = np.full(env.num_items, 0.2)
    p[5] = 0.9
    lenv = learned_env.LearnedUserEnv(env.logs, _ConstantReward(p), learned_env.LearnedEnvConfig(horizon=2))
    obs, _ = lenv.reset([1, 2], users=np.array([0, 0]))
    start_len = obs["length"].copy()
    lenv.s.seen[:, 5] = False
    lenv.s.seen[:, 6] = False
    obs, reward, term, trunc, info = lenv.step(np.array([5, 6]))
    assert reward.tolist() == [0.9, 0.2] and info["consumed"].tolist() == [True, False]
    assert obs["length"][0] == min(start_len[0] + 1, obs["items"].shape[1]) and obs["length"][1] == start_len[1]
    assert lenv.seen[0, 5] and lenv.seen[1, 6] and not term.any() and not trunc.any()
    _, _, term, trunc, _ = lenv.step(np.array([7, 8]))
    assert trunc.all() and not term.any()                                # the horizon, no quit model


def test_label_reward_pays_only_chosen_candidates_of_the_start_state():
    reward = learned_env.LabelReward(np.array([[3, 4, 5], [6, 7, 8]]), np.array([[0, 1, 0], [1, 0, 0]]))
    got = reward.rewards(None, None, None, np.array([0, 0, 1, 1]), np.array([4, 3, 6, 4]))
    assert got.tolist() == [1.0, 0.0, 1.0, 0.0]


def test_mixture_weight_rule():
    cfg = adaptation.AdaptConfig()
    assert adaptation.mixture_weight(np.nan, 1.0, cfg) == cfg.w_init
    assert adaptation.mixture_weight(2.0, 2.0, cfg) == pytest.approx(0.5)
    assert adaptation.mixture_weight(4.0, 0.0, cfg) == cfg.w_max                 # pre much better: capped
    assert adaptation.mixture_weight(0.0, 4.0, cfg) == cfg.w_min                 # online much better: floored
    assert adaptation.mixture_weight(3.0, 2.0, cfg) > adaptation.mixture_weight(2.0, 3.0, cfg)
    assert adaptation.mixture_weight(1.0, 9.0, dataclasses.replace(cfg, rule="fixed", fixed_w=0.3)) == 0.3
    with pytest.raises(ValueError, match="unknown rule"):
        adaptation.AdaptConfig(rule="bandit")


def test_mixture_probs_reduce_to_each_part():
    pre, on = torch.tensor([[0.7, 0.3]]), torch.tensor([[0.1, 0.9]])
    assert torch.equal(adaptation.mixture_probs(pre, on, 1.0), pre)
    assert torch.equal(adaptation.mixture_probs(pre, on, 0.0), on)
    torch.testing.assert_close(adaptation.mixture_probs(pre, on, 0.25), torch.tensor([[0.25, 0.75]]))


def _net(env, seed):
    torch.manual_seed(seed)
    return actor_critic.ActorCritic(env.num_items, 16, "mean", item_features=env.item_features)


def test_w_zero_is_online_a2c_bit_for_bit(env):
    cfg = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=12, log_every=4)
    a2c = online.fit_a2c(env.simulator(), _net(env, 0), cfg, np.random.default_rng(3))
    mix = adaptation.fit_mixture(env.simulator(), None, _net(env, 0), cfg,
                                 adaptation.AdaptConfig(rule="fixed", fixed_w=0.0), np.random.default_rng(3))
    pd.testing.assert_frame_equal(mix.episodes[a2c.episodes.columns], a2c.episodes)
    pd.testing.assert_frame_equal(mix.losses[a2c.losses.columns], a2c.losses)
    assert (mix.episodes["served_by"] == "on").all()


def test_w_one_is_the_frozen_pre_trained_policy(env):
    cfg = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=10)
    pre = _net(env, 1)
    before = copy.deepcopy(pre.state_dict())
    mix = adaptation.fit_mixture(env.simulator(), pre, None, cfg, adaptation.AdaptConfig(rule="fixed", fixed_w=1.0),
                                 np.random.default_rng(4), learn=False)
    assert (mix.episodes["served_by"] == "pre").all() and mix.losses.empty
    assert all(torch.equal(v, before[k]) for k, v in pre.state_dict().items())
    with pytest.raises(ValueError, match="a policy that may serve is missing"):
        adaptation.fit_mixture(env.simulator(), None, None, cfg, adaptation.AdaptConfig(), np.random.default_rng(4))


def test_adaptive_mixture_is_deterministic_serves_both_and_is_evaluated(env):
    cfg = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=30)
    evaluation = adaptation.Evaluation(env.simulator(), session.episode_seeds(9, 8), checkpoints=3)
    runs = [adaptation.fit_mixture(env.simulator(), _net(env, 1), _net(env, 2), cfg, adaptation.AdaptConfig(),
                                   np.random.default_rng(5), evaluation=evaluation) for _ in range(2)]
    pd.testing.assert_frame_equal(runs[0].episodes, runs[1].episodes)
    pd.testing.assert_frame_equal(runs[0].evaluations, runs[1].evaluations)
    assert set(runs[0].episodes["served_by"]) == {"pre", "on"}
    ev = runs[0].evaluations
    assert ev["update"].tolist() == [0, 10, 20, 30] and ev["pre"].nunique() == 1          # pre is frozen
    np.testing.assert_allclose(ev["served"], ev["w"] * ev["pre"] + (1 - ev["w"]) * ev["on"])
    summary = adaptation.curve_summary(runs[0], cfg.updates)
    assert summary["jump_start"] == ev["served"].iloc[0] and summary["final"] == ev["served"].iloc[-1]
    assert summary["dip"] <= 0 and 0 <= summary["coverage"] <= 1


def test_pre_training_runs_on_the_learned_model_with_fit_a2c(env):
    p = np.linspace(0.0, 1.0, env.num_items)
    lenv = learned_env.LearnedUserEnv(env.logs, _ConstantReward(p), learned_env.LearnedEnvConfig(horizon=3))
    cfg = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=5)
    result = online.fit_a2c(lenv, _net(env, 0), cfg, np.random.default_rng(0))
    assert (result.episodes["length"] == 3).all() and (result.episodes["return"] <= 3.0).all()


def test_interest_items_name_their_topic(env):
    names = interest.topic_names(env.cfg.num_topics)
    assert all(f"({names[g]})" in text for g, text in zip(env.world.topic, env.item_texts))
    assert len(env.logs) > 0 and env.logs.true_probs.shape == (len(env.logs), env.num_items)
    with pytest.raises(ValueError, match="unknown environment 'kuairec'"):
        ialp_task.make_environment("kuairec", Mode.SMOKE, data_dir=None)


def test_label_reward_refuses_unlabelled_start_states():
    reward = learned_env.LabelReward(np.array([[3, 4]]), np.array([[0, 1]]))
    with pytest.raises(ValueError, match="start sessions from the labelled states only"):
        reward.rewards(None, None, None, np.array([0, 1]), np.array([4, 4]))


def test_fine_tune_start_resets_only_the_critic(env):
    pre = _net(env, 1)
    for rule, same_critic in (("reset", False), ("keep", True)):
        net = adaptation.fine_tune_start(pre, adaptation.AdaptConfig(ft_critic=rule))
        assert net is not pre and torch.equal(net.items.weight, pre.items.weight)
        assert torch.equal(net.critic.weight, pre.critic.weight) == same_critic


# --- the LLM teacher (a tiny random LM with SmolLM2's tokenizer) and the cached pipeline -----------------------

TEXTS = ["Heat (1995) [Action]", "Toy Story (1995) [Animation]", "Alien (1979) [Horror]", "Up (2009) [Comedy]",
         "Jaws (1975) [Thriller]", "Big (1988) [Comedy]"]


def _histories():
    items = np.array([[0, 1, 6], [2, 6, 6], [6, 6, 6]])                  # padded with N = 6
    feedback = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 0]], dtype=np.int8)  # state 1 liked item 2; state 2 nothing
    return items, feedback, np.array([2, 1, 0])


def test_llm_scores_are_the_candidate_likelihoods_and_cached(tiny_lm, lm_tokenizer, tmp_path, monkeypatch):
    from recrl_core.llm import candidates, prompts
    from recrl_core.methods.ialp import llm_teacher

    pools = np.array([[2, 3, 4], [0, 1, 5], [3, 4, 5]])
    cfg = labels.LabelConfig(candidates=3)
    scores, stats = llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools, cfg, tmp_path)
    ask = prompts.preference_prompt(lm_tokenizer, ["Heat (1995) [Action]"], cfg.history_shown)   # item 1 not liked
    alone = candidates.score_candidates(tiny_lm, lm_tokenizer, ask, [TEXTS[i] for i in pools[0]])
    np.testing.assert_allclose(scores[0], alone, rtol=1e-4, atol=1e-4)
    assert stats["llm_scored"] == 3 and stats["from_cache"] == 0 and stats["nothing_liked"] == 1

    def no_llm(*args, **kwargs):
        raise AssertionError("the LLM was called although every state is cached")

    import recrl_core.llm.candidates as cand

    monkeypatch.setattr(cand, "score_candidate_sets", no_llm)
    again, stats = llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools, cfg, tmp_path)
    assert stats["from_cache"] == 3 and np.array_equal(again, scores)
    with pytest.raises(AssertionError, match="the LLM was called"):           # new candidates: a new entry
        llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools[:, ::-1], cfg, tmp_path)
    with pytest.raises(AssertionError, match="the LLM was called"):           # another model: a new entry
        llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "other", TEXTS, _histories(), pools, cfg, tmp_path)


def test_pmi_subtracts_the_no_history_prior(tiny_lm, lm_tokenizer, tmp_path):
    from recrl_core.llm import candidates, prompts
    from recrl_core.methods.ialp import llm_teacher

    pools = np.array([[2, 3, 4], [0, 1, 5], [3, 4, 5]])
    cfg = labels.LabelConfig(candidates=3)
    plain, _ = llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools, cfg, tmp_path)
    prior = llm_teacher.prior_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, pools, cfg, tmp_path)
    by_hand = candidates.score_candidates(tiny_lm, lm_tokenizer, prompts.preference_prompt(lm_tokenizer, []), TEXTS)
    np.testing.assert_allclose(prior, by_hand, rtol=1e-4, atol=1e-4)         # every item is in some pool here
    pmi, _ = llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools,
                                    dataclasses.replace(cfg, llm_score="pmi"), tmp_path)
    np.testing.assert_allclose(pmi, plain - prior[pools])
    np.testing.assert_allclose(pmi[2], 0.0, atol=1e-4)                       # nothing liked: the prior itself
    with pytest.raises(ValueError, match="unknown llm_score"):
        labels.LabelConfig(llm_score="logit")


def test_zero_shot_policy_recommends_an_unseen_candidate(env, tiny_lm, lm_tokenizer, tmp_path, rng):
    from recrl_core.methods.ialp import llm_teacher

    vec = env.simulator()
    vec.reset(session.episode_seeds(0, 3))
    cfg = labels.LabelConfig(candidates=4)
    policy = llm_teacher.LLMPolicy(tiny_lm, lm_tokenizer, "tiny", env.item_texts, env.popularity,
                                   labels.base_recommender(env), cfg, tmp_path)
    actions = policy.act(vec, rng)
    assert policy.calls == 3 and not vec.seen[np.arange(3), actions].any()


def test_pipeline_caches_reward_models_and_pre_trained_policies(env, tmp_path, monkeypatch):
    from recrl_core.methods.ialp import pipeline

    monkeypatch.setenv("RECRL_CACHE_DIR", str(tmp_path))
    cfg = labels.LabelConfig.for_mode(Mode.SMOKE)
    taught = pipeline.teach(env, "truth", cfg)
    assert np.array_equal(taught.labels.argmax(1), taught.truth.argmax(1))
    rm_cfg = reward_model.RewardModelConfig.for_mode(Mode.SMOKE)
    first, log, held = pipeline.reward_model_for(env, taught, rm_cfg)
    second, log2, held2 = pipeline.reward_model_for(env, taught, rm_cfg)
    assert all(torch.equal(v, second.state_dict()[k]) for k, v in first.state_dict().items())
    pd.testing.assert_frame_equal(log, log2)
    np.testing.assert_array_equal(held, held2)
    a2c = dataclasses.replace(online.A2CConfig.for_mode(Mode.SMOKE), updates=4)
    lcfg = learned_env.LearnedEnvConfig.for_mode(Mode.SMOKE)
    key = pipeline.lesson_key(taught, rm_cfg)
    net, episodes = pipeline.pretrained(env, first, a2c, lcfg, 0, key)
    monkeypatch.setattr(learned_env, "pretrain", lambda *a, **k: (_ for _ in ()).throw(AssertionError("trained")))
    again, episodes2 = pipeline.pretrained(env, first, a2c, lcfg, 0, key)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in net.state_dict().items())
    assert len(episodes2) == len(episodes)
    with pytest.raises(AssertionError, match="trained"):                    # other start states: a new entry
        pipeline.pretrained(env, first, a2c, lcfg, 0, key, logs=env.logs.take(taught.rows))
    with pytest.raises(ValueError, match="the llm labeller needs lm"):
        pipeline.teach(env, "llm", cfg)


def test_a_corrupt_label_cache_entry_is_refused_by_name(tiny_lm, lm_tokenizer, tmp_path):
    import json

    from recrl_core.llm.cache import OutputCache
    from recrl_core.methods.ialp import llm_teacher

    pools, cfg = np.array([[2, 3, 4], [0, 1, 5], [3, 4, 5]]), labels.LabelConfig(candidates=3)
    llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools, cfg, tmp_path)
    entries = sorted((tmp_path / "llm-outputs" / "ialp-labels").rglob("*.json"))
    assert len(entries) == 3 and OutputCache("ialp-labels", tmp_path).path(entries[0].stem) == entries[0]
    entries[0].write_text(json.dumps({"parts": None, "value": [0.1, 0.2]}))        # two scores for three candidates
    with pytest.raises(ValueError, match=f"{entries[0].name} does not hold 3 finite scores"):
        llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools, cfg, tmp_path)
    entries[0].write_text("{not json")
    with pytest.raises(ValueError, match="corrupt LLM cache entry"):
        llm_teacher.llm_scores(tiny_lm, lm_tokenizer, "tiny", TEXTS, _histories(), pools, cfg, tmp_path)


def test_narrow_keeps_a_subset_and_relabels_without_the_llm(env):
    from recrl_core.methods.ialp import pipeline

    taught = pipeline.teach(env, "truth", labels.LabelConfig.for_mode(Mode.SMOKE))
    small = pipeline.narrow(taught, 4, 1, seed=0)
    assert small.pools.shape == (len(taught.rows), 4) and (small.labels.sum(1) == 1).all()
    for j in range(len(taught.rows)):
        assert set(small.pools[j]) <= set(taught.pools[j])
        chosen = small.pools[j, small.labels[j].argmax()]
        assert small.truth[j].max() == taught.truth[j, list(taught.pools[j]).index(chosen)]   # best of the four
    with pytest.raises(ValueError, match="need top_k < m"):
        pipeline.narrow(taught, 10, 1, seed=0)


def test_lift_interval_brackets_the_lift_and_shrinks_with_more_states(rng):
    truth = rng.random((400, 10))
    scores = truth + rng.normal(0.0, 0.3, truth.shape)                    # a decent, noisy teacher
    lift = labels.teacher_quality(scores, truth)["lift"]
    low, high = labels.lift_interval(scores, truth, np.random.default_rng(1))
    assert low < lift < high
    low_small, high_small = labels.lift_interval(scores[:40], truth[:40], np.random.default_rng(1))
    assert high_small - low_small > 2 * (high - low)                      # ~sqrt(10) wider with 10x fewer states
    perfect = labels.lift_interval(truth, truth, np.random.default_rng(1))
    assert perfect == pytest.approx((1.0, 1.0))


def test_a_run_that_finished_no_session_survives_the_cache_and_the_summary():
    from recrl_core.methods.ialp import pipeline

    empty = pd.DataFrame(columns=["episode", "update", "return", "length"])
    back = pipeline._frame(pipeline._frame_json(empty))
    assert list(back.columns) == list(empty.columns) and len(back) == 0
    assert pipeline._frame('[{"a": 1}]').to_dict("list") == {"a": [1]}            # older entries: plain records
    result = adaptation.MixtureResult(back, pd.DataFrame(), np.zeros(3), pd.DataFrame({"served": [1.0, 0.5]}))
    summary = adaptation.curve_summary(result, updates=4)
    assert np.isnan(summary["auc"]) and np.isnan(summary["length"]) and summary["dip"] == -0.5
