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
                              max_new_tokens=4, num_generations=2, beta=0.05, epochs=2, minibatch=2, micro_batch=1)
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


def test_peft_config_adapts_the_same_layers_as_add_lora(tiny_lm):
    from peft import get_peft_model

    from recrl_core.llm import models

    cfg, split = lora.on_top_layers(lora.LoRAConfig(r=4), tiny_lm.config.num_hidden_layers, 1)
    assert split == 1
    ours = lora.trainable_parameter_names(lora.add_lora(tiny_lm, cfg))
    fresh = models.tiny_causal_lm("llama", vocab_size=tiny_lm.config.vocab_size, seed=0)
    theirs = lora.trainable_parameter_names(get_peft_model(fresh, trl_route.peft_config("llama", cfg)))
    assert ours == theirs and ours and all(".layers.1." in n for n in ours)


def test_a_round_is_one_generation_batch_learned_in_minibatches_and_micro_batches(tmp_path):
    cfg = trl_route.TRLConfig(steps=3, prompts_per_step=4, num_generations=4, epochs=2, minibatch=8, micro_batch=4)
    args = trl_route.trainer_args(cfg, tmp_path)
    assert args.per_device_train_batch_size == 4 and args.gradient_accumulation_steps == 2
    assert args.generation_batch_size == cfg.completions_per_step == 16        # sampled once per round
    assert args.num_iterations == 2 and args.max_steps == cfg.optimizer_steps == 3 * 2 * 2
    assert args.lr_scheduler_type == "constant"                                 # as our PPO
    one = trl_route.TRLConfig(steps=3, prompts_per_step=4, num_generations=4)   # defaults: one step per round
    assert trl_route.trainer_args(one, tmp_path).max_steps == 3
    with pytest.raises(ValueError, match="micro_batch"):
        trl_route.TRLConfig(prompts_per_step=4, num_generations=2, minibatch=4, micro_batch=3)
    with pytest.raises(ValueError, match="minibatch"):
        trl_route.TRLConfig(prompts_per_step=3, num_generations=2, minibatch=4)


def test_sizes_that_do_not_split_over_the_processes_are_refused(tmp_path, monkeypatch):
    """trl's sizes are per process; trainer_args divides them by the launch's process count."""
    monkeypatch.setenv("WORLD_SIZE", "3")                       # read only, no process group is joined
    cfg = trl_route.TRLConfig(steps=1, prompts_per_step=2, num_generations=2, micro_batch=1)   # 4 completions
    with pytest.raises(ValueError, match="3 processes"):
        trl_route.trainer_args(cfg, tmp_path)
