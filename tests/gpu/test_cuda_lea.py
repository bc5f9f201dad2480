"""LEA's LLM environment on a CUDA device in the LM's GPU precision (full mode's path). Skipped without a GPU."""

import numpy as np
import pytest
import torch

from recrl_core.data.sequences import EvalEvents
from recrl_core.llm import models
from recrl_core.methods.lea import environment as envm
from recrl_core.methods.lea import item_tokens as itok
from recrl_core.methods.lea import environment_eval, offline_pass
from recrl_core.methods.lea.lea_task import new_environment

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

NAMES = ["Oasis", "Blur", "Pulp", "Suede", "Radiohead", "Coldplay", "Muse", "Keane"]
DETAILS = ["an artist tagged britpop"] * 4 + ["an artist tagged rock"] * 4
SEQS = {0: np.array([0, 1, 2, 3, 4]), 1: np.array([5, 6]), 2: np.array([7, 0, 3])}   # uneven: padded rows


def _lm(tok):
    lm = models.tiny_causal_lm(vocab_size=len(tok), tokenizer=tok).to("cuda", models.pick_dtype("cuda"))
    itok.freeze_lm(lm)
    return lm


def _env(tok, adapt_layers):
    lm = _lm(tok)
    tokens = itok.init_item_tokens(lm, tok, itok.item_sentences(NAMES, DETAILS), itok.ItemTokenConfig())
    return new_environment(lm, tok, tokens, envm.LEConfig(state_dim=8, adapt_layers=adapt_layers))


def test_item_tokens_train_on_cuda(lm_tokenizer):
    lm = _lm(lm_tokenizer)
    tokens, log = itok.fit_item_tokens(lm, lm_tokenizer, NAMES, DETAILS, itok.ItemTokenConfig(epochs=2, batch_size=4))
    assert tokens.weight.device.type == "cuda" and np.isfinite(log["loss"]).all()


@pytest.mark.parametrize("adapt_layers", [None, 1])
def test_le_trains_on_cuda_with_finite_gradients(lm_tokenizer, adapt_layers):
    env = _env(lm_tokenizer, adapt_layers)
    cfg = envm.LEConfig(state_dim=8, adapt_layers=adapt_layers, epochs=2, batch_size=3, context=4,
                        rm_negatives=2, state_negatives=2)
    log = envm.fit_environment(env, SEQS, cfg)
    assert np.isfinite(log[["loss", "sm", "rm"]].to_numpy()).all()
    seen = {u: set(s.tolist()) for u, s in SEQS.items()}
    env.train()
    batch = envm.make_batches(env, envm.chunks_of(SEQS, 4), seen, cfg, np.random.default_rng(0))[0]
    envm.le_loss(env, batch, seen, cfg, np.random.default_rng(1))["loss"].backward()
    grads = [p.grad for p in env.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_cached_trunk_matches_the_whole_decoder_on_cuda(lm_tokenizer):
    env = _env(lm_tokenizer, adapt_layers=1).eval()
    tree = envm.chunk_tree(env, [np.array([0, 3, 5, 1]), np.array([2, 7])],
                           [np.array([[2, 4], [6, 7], [1, 2], [0, 5]]), np.array([[1, 3], [4, 6]])])
    with torch.no_grad():
        torch.testing.assert_close(env.top(env.trunk(tree)).float(), env.hidden(tree).float(), atol=5e-2, rtol=5e-2)


def test_pass_and_evaluation_on_cuda(lm_tokenizer):
    env = _env(lm_tokenizer, adapt_layers=1).eval()
    users = np.concatenate([np.full(len(s), u) for u, s in SEQS.items()])
    items = np.concatenate(list(SEQS.values()))
    res = offline_pass.run_pass(env, users, items, offline_pass.PassConfig(candidates=3, random_candidates=1, aug_k_max=2,
                                                                 batch_size=2), context=3)
    for name in offline_pass.FIELDS:
        assert np.isfinite(getattr(res, name)).all(), name
    for row in range(len(items)):
        start = np.flatnonzero(users == users[row])[0]
        assert not set(items[start:row + 1].tolist()) & set(res.aug_actions[row].tolist())
    events = EvalEvents(users=np.arange(3), items=np.array([[0, 1, 8], [5, 8, 8], [7, 0, 8]]),
                        lengths=np.array([2, 1, 2]), target=np.array([2, 6, 3]), behaviour=np.full(3, "click"),
                        time=np.arange(3))
    out = environment_eval.evaluate_environment(env, events, np.arange(1, 9), envm.LEConfig(eval_events=3, context=3))
    assert all(0.0 <= out[k] <= 1.0 for k in ("rm_accuracy", "rm_auc", "state_hr@10"))
