"""iALP / A-iALP (Wang et al., WSDM 2025): a policy pre-trained on an LLM's preferences, then adapted online.

Modules, in the order of the method:

* ``ialp_task`` — the three simulators of Ch. 6 as environments with item text and
  offline logs (:class:`~recrl_core.methods.ialp.ialp_task.Environment`), and the
  chapter's grid (:class:`~recrl_core.methods.ialp.ialp_task.IALPGridConfig`);
* ``labels`` — candidate pools for logged states, labellers that need no LLM
  (popularity, random, the hidden truth, the noisy truth of the teacher-quality dial),
  and how good a teacher is (``teacher_quality``);
* ``llm_teacher`` — the LLM's candidate scores (cached) and the LLM as a zero-shot policy;
* ``reward_model`` — :math:`R_\\psi(s, a)` fitted to the labels by binary cross-entropy;
* ``learned_env`` — the learned user model iALP pre-trains on, without the simulator;
* ``adaptation`` — online deployment: A2C from scratch, iALP frozen, A-iALP_ft and the
  A-iALP_ap mixture with its weight rule, and the summary of a learning curve;
* ``pipeline`` — the steps chained and cached: teach, fit the reward model, pre-train.

Spec: spec-ialp (book/appendix/ialp.md). Taught in Ch. 9: sec-ialp-teacher,
sec-ialp-online, sec-ialp-ablations.
"""
