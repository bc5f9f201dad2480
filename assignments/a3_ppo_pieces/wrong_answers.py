"""Deliberately wrong answers: the tests of each question must take marks off every one.

Read by ``scripts/assignments.py verify`` as a literal (never imported or executed there);
each source replaces the student's answer cell that starts with the same line.
"""

WRONG = {
    "q1_gae": [
        ("padding not masked: bootstraps from the padded value", '''def gae(rewards, values, mask, gamma, lam):
    B, T = values.shape
    advantages = torch.zeros_like(values)
    next_value, next_adv = torch.zeros(B), torch.zeros(B)
    for t in reversed(range(T)):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_adv) * mask[:, t]
        next_adv, next_value = advantages[:, t], values[:, t]
    return advantages, (advantages + values) * mask
'''),
        ("forward instead of backward recursion", '''def gae(rewards, values, mask, gamma, lam):
    B, T = values.shape
    advantages = torch.zeros_like(values)
    prev = torch.zeros(B)
    for t in range(T):
        nv = values[:, t + 1] * mask[:, t + 1] if t + 1 < T else torch.zeros(B)
        delta = rewards[:, t] + gamma * nv - values[:, t]
        advantages[:, t] = (delta + gamma * lam * prev) * mask[:, t]
        prev = advantages[:, t]
    return advantages, (advantages + values) * mask
'''),
    ],
    "q2_kl_k3": [
        ("the sign of r reversed (k3 of the reverse KL)", '''def kl_k3(logprobs, ref_logprobs):
    r = logprobs - ref_logprobs
    return torch.expm1(r) - r
'''),
        ("k1 instead of k3", '''def kl_k3(logprobs, ref_logprobs):
    return logprobs - ref_logprobs
'''),
    ],
    "q3_clipped_loss": [
        ("max instead of min (clipping helps the update)", '''def clipped_policy_loss(logprobs, old_logprobs, advantages, mask, clip_range):
    ratio = torch.exp(logprobs - old_logprobs.detach())
    adv = advantages.detach()
    surrogate = torch.maximum(ratio * adv, torch.clamp(ratio, 1 - clip_range, 1 + clip_range) * adv)
    return -(surrogate * mask).sum() / mask.sum()
'''),
        ("a plain mean over padded tokens too", '''def clipped_policy_loss(logprobs, old_logprobs, advantages, mask, clip_range):
    ratio = torch.exp(logprobs - old_logprobs.detach())
    adv = advantages.detach()
    return -torch.minimum(ratio * adv, torch.clamp(ratio, 1 - clip_range, 1 + clip_range) * adv).mean()
'''),
    ],
    "q4_response_logprobs": [
        ("off by one: logits at the token's own position", '''def response_logprobs(model, input_ids, prompt_len):
    logits = model(input_ids).logits[:, prompt_len:]
    return torch.log_softmax(logits, dim=-1).gather(-1, input_ids[:, prompt_len:, None]).squeeze(-1)
'''),
    ],
}
