"""Deliberately wrong answers: the tests of each question must take marks off every one.

Read by ``scripts/assignments.py verify`` as a literal (never imported or executed there);
each source replaces the student's answer cell that starts with the same line.
"""

WRONG = {
    "q1_double_q_target": [
        ("the target network picks and values (plain max, no double Q)", '''def double_q_target(reward, done, q_next_main, q_next_target, gamma):
    return reward + gamma * (1.0 - done) * q_next_target.max(dim=-1).values
'''),
        ("no terminal mask", '''def double_q_target(reward, done, q_next_main, q_next_target, gamma):
    best = q_next_main.argmax(dim=-1, keepdim=True)
    return reward + gamma * q_next_target.gather(-1, best).squeeze(-1)
'''),
    ],
    "q2_sqn_loss": [
        ("no 1/2 on the squared TD error", '''def sqn_loss(logits, q, action, reward, done, q_next_main, q_next_target, gamma):
    y = double_q_target(reward, done, q_next_main, q_next_target, gamma).detach()
    ls = F.cross_entropy(logits, action, reduction="none")
    lq = (y - q.gather(-1, action[:, None]).squeeze(-1)) ** 2
    return {"loss": (ls + lq).mean(), "supervised": ls.mean().detach(), "q": lq.mean().detach()}
'''),
        ("the target is not detached", '''def sqn_loss(logits, q, action, reward, done, q_next_main, q_next_target, gamma):
    y = double_q_target(reward, done, q_next_main, q_next_target, gamma)
    ls = F.cross_entropy(logits, action, reduction="none")
    lq = 0.5 * (y - q.gather(-1, action[:, None]).squeeze(-1)) ** 2
    return {"loss": (ls + lq).mean(), "supervised": ls.mean().detach(), "q": lq.mean().detach()}
'''),
    ],
}
