"""The trl route runs on CPU with a plain reward function, LoRA and beta > 0."""

import dataclasses

import pytest

from recrl_core.config import Mode
from recrl_core.llm import lora, prompts, trl_route


def test_group_size_is_validated():
    with pytest.raises(ValueError, match="num_generations"):
        trl_route.TRLConfig(num_generations=1)
    with pytest.raises(ValueError, match="grpo"):
        trl_route.TRLConfig(algorithm="ppo")
    assert trl_route.TRLConfig(prompts_per_step=3, num_generations=4).completions_per_step == 12


def test_cpu_arguments(tmp_path):
    args = trl_route.trainer_args(trl_route.TRLConfig.for_mode(Mode.SMOKE), tmp_path)
    assert args.use_cpu and not args.bf16 and args.report_to in ("none", [], ["none"])
    assert args.top_k == 0 and args.top_p == 1.0 and args.temperature == 0.7


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_two_steps_with_lora_and_kl(algorithm, tmp_path, tiny_lm, lm_tokenizer):
    tiny_lm.save_pretrained(tmp_path / "model")
    lm_tokenizer.save_pretrained(tmp_path / "model")
    cfg = dataclasses.replace(trl_route.TRLConfig.for_mode(Mode.SMOKE), algorithm=algorithm,
                              max_new_tokens=4, num_generations=2, beta=0.05)
    ps = [prompts.genre_prompt(lm_tokenizer, [t]) for t in ["Heat (1995)", "Up (2009)"]]
    seen = []

    def reward(completions, prompts, **_):
        seen.append(len(completions))
        return [float(len(c)) for c in completions]

    trainer, log, seconds = trl_route.train(tmp_path / "model", lm_tokenizer, ps, reward, cfg,
                                            lora.LoRAConfig(r=4), tmp_path / "out")
    assert len(log) == cfg.steps and all("reward" in row for row in log)
    assert seen and all(n == cfg.completions_per_step for n in seen)
    names = lora.trainable_parameter_names(trainer.model)
    assert names and all("lora_" in n for n in names)
    assert seconds > 0


def test_no_gradient_checkpointing(tmp_path):
    args = trl_route.trainer_args(trl_route.TRLConfig.for_mode(Mode.SMOKE), tmp_path)
    assert args.gradient_checkpointing is False
