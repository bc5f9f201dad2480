"""Deliberately wrong answers: the tests of each question must take marks off every one.

Read by ``scripts/assignments.py verify`` as a literal (never imported or executed there);
each source replaces the student's answer cell that starts with the same line.
"""

WRONG = {
    "q1_td_error": [
        ("bootstraps after the user left", '''def td_error(reward, done, value, next_value, gamma):
    return reward + gamma * next_value.detach() - value
'''),
        ("gradient through the bootstrap", '''def td_error(reward, done, value, next_value, gamma):
    return reward + gamma * (1.0 - done) * next_value - value
'''),
    ],
    "q2_a2c_loss": [
        ("entropy bonus with the wrong sign", '''def a2c_loss(logits, value, next_value, action, reward, done, gamma, entropy_coef):
    delta = td_error(reward, done, value, next_value, gamma)
    logp = F.log_softmax(logits, dim=-1)
    ent = -(logp.exp() * logp).sum(dim=-1)
    policy = -logp.gather(-1, action[:, None]).squeeze(-1) * delta.detach() + entropy_coef * ent
    return {"loss": (policy + delta ** 2).mean(), "entropy": ent.mean().detach()}
'''),
        ("advantage not detached in the policy term", '''def a2c_loss(logits, value, next_value, action, reward, done, gamma, entropy_coef):
    delta = td_error(reward, done, value, next_value, gamma)
    logp = F.log_softmax(logits, dim=-1)
    ent = -(logp.exp() * logp).sum(dim=-1)
    policy = -logp.gather(-1, action[:, None]).squeeze(-1) * delta - entropy_coef * ent
    return {"loss": (policy + delta ** 2).mean(), "entropy": ent.mean().detach()}
'''),
    ],
    "q3_run_session": [
        ("ignores truncation (runs past the turn limit or the end)", '''def run_session(env, order, seed):
    env.reset(seed=seed)
    clicks, length = 0.0, 0
    for item in order:
        _, reward, terminated, truncated, _ = env.step(int(item))
        clicks, length = clicks + reward, length + 1
        if terminated:
            break
    return clicks, length
'''),
        ("no seed: a different user every call", '''def run_session(env, order, seed):
    env.reset()
    clicks, length = 0.0, 0
    for item in order:
        _, reward, terminated, truncated, _ = env.step(int(item))
        clicks, length = clicks + reward, length + 1
        if terminated or truncated:
            break
    return clicks, length
'''),
    ],
}
