"""LAAC (Woo et al., 2025): an LLM as reference policy in an adversarial actor-critic, for novel items.

Modules, in the order of the method:

* ``laac_task`` — Ch. 4's MovieLens logs aligned with Ch. 6's grounded simulator (the true
  appeal of every (user, item) pair), the head-dominated imbalanced logs, reference lists
  that differ only in who chose (random, popular, greedy MF, oracle) and their quality;
* ``suggestions`` — the LLM's suggestions of items new to each user (pool scoring, cached;
  free generation mapped to the catalogue, with counts) and the reference distribution;
* ``adversarial`` — the critic's relative pessimism against the reference, the Bellman
  error with a Polyak target, the anchor, the actor's loss, the norm projection and the
  training step (:class:`~recrl_core.methods.laac.adversarial.LAACLearner`);
* ``experiments`` — one picklable run per (method, log, seed) for ``train.parallel``, with
  offline metrics, the true appeal of novel top-10 lists, and the critic's values against
  the truth.

Spec: spec-laac (book/appendix/laac.md). Taught in Ch. 10: sec-laac-suggestions,
sec-laac-critic, sec-laac-results.
"""
