"""Deliberately wrong answers: the tests of each question must take marks off every one.

Read by ``scripts/assignments.py verify`` as a literal (never imported or executed there);
each source replaces the student's answer cell that starts with the same line.
"""

WRONG = {
    "q1_values": [
        ("reference value as an unweighted mean of the suggestions", '''def policy_value(pi, f):
    return (pi * f).sum(dim=-1)


def reference_value(f, items, weights):
    return f.gather(1, items.clamp(min=0)).mean(dim=-1)
'''),
        ("policy value from the greedy action instead of the expectation", '''def policy_value(pi, f):
    return f.gather(1, pi.argmax(dim=-1, keepdim=True)).squeeze(1)


def reference_value(f, items, weights):
    return (f.gather(1, items.clamp(min=0)) * weights).sum(dim=-1)
'''),
    ],
    "q2_anchor_loss": [
        ("squared instead of hinge: also pulls values up", '''def anchor_loss(f, action, items, weights):
    valid = (items >= 0).float()
    gap = f.gather(1, items.clamp(min=0)) - f.gather(1, action[:, None]).detach()
    return (weights * valid * gap ** 2).sum(dim=-1).mean()
'''),
        ("padding not masked", '''def anchor_loss(f, action, items, weights):
    gap = f.gather(1, items.clamp(min=0)) - f.gather(1, action[:, None]).detach()
    return (weights * F.relu(gap) ** 2).sum(dim=-1).mean()
'''),
    ],
    "q3_critic_loss": [
        ("pessimism with the wrong sign (optimism)", '''def critic_loss(f, pi, action, target, items, weights, beta, anchor_weight):
    pessimism = (reference_value(f, items, weights) - policy_value(pi.detach(), f)).mean()
    bellman = ((f.gather(1, action[:, None]).squeeze(1) - target.detach()) ** 2).mean()
    return pessimism + beta * bellman + anchor_weight * anchor_loss(f, action, items, weights)
'''),
        ("the actor's policy not detached", '''def critic_loss(f, pi, action, target, items, weights, beta, anchor_weight):
    pessimism = (policy_value(pi, f) - reference_value(f, items, weights)).mean()
    bellman = ((f.gather(1, action[:, None]).squeeze(1) - target.detach()) ** 2).mean()
    return pessimism + beta * bellman + anchor_weight * anchor_loss(f, action, items, weights)
'''),
    ],
}
