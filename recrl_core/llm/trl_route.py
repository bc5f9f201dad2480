"""The library route: the same reward optimised with trl's GRPO or RLOO trainer.

trl 1.16 has no PPO (spec-trl), but its GRPO and RLOO trainers take plain
Python reward functions ``f(completions, prompts, **kwargs) -> list[float]``,
so a task's reward is shared between our PPO and trl. The CPU settings that
matter are set here once: ``use_cpu``, ``bf16=False`` (bf16 is ~2x slower on
CPU), ``report_to="none"``, no checkpoints, no gradient checkpointing (trl turns
it on by default), and a model *path* (with β > 0 trl
rebuilds the reference from the path; an in-memory model crashes, spec-trl).
With a LoRA ``peft_config`` the reference is the adapter-disabled model, as in
our PPO.

Taught in: sec-trl-grpo
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch

from recrl_core import distributed
from recrl_core.config import Mode
from recrl_core.llm import lora, models


@dataclass(frozen=True)
class TRLConfig:
    algorithm: str = "grpo"         # "grpo" | "rloo" (Proposed: the library route of Ch. 5)
    lr: float = 3e-5                # Adam learning rate, as our PPOConfig (Public code: Shielded RecRL)
    steps: int = 64                 # sampling rounds, each one generation batch (Proposed; as PPO's updates)
    prompts_per_step: int = 8       # distinct prompts per round (Proposed)
    num_generations: int = 4        # completions per prompt = group size, >= 2 (trl)
    epochs: int = 1                 # passes over each generation batch: trl's num_iterations, mu (GRPO paper)
    minibatch: int | None = None    # completions per optimizer step; None = the whole generation batch
    micro_batch: int = 4            # completions per forward/backward; gradient accumulation fills a minibatch
    max_new_tokens: int = 40        # as GENERATION_DEFAULTS (spec-llm-conventions)
    temperature: float = 0.7        # as GENERATION_DEFAULTS (spec-llm-conventions)
    beta: float = 0.05              # KL coefficient, as PPOConfig.kl_coef (Public code: kl_beta)
    clip_range: float = 0.2         # epsilon (Schulman et al. 2017)
    seed: int = 0

    SIZE_FIELDS: ClassVar[tuple[str, ...]] = ("steps", "prompts_per_step", "epochs", "minibatch")

    def __post_init__(self):
        if self.algorithm not in ("grpo", "rloo"):
            raise ValueError(f"algorithm must be 'grpo' or 'rloo', got {self.algorithm!r}")
        if self.num_generations < 2:
            raise ValueError("num_generations must be >= 2: group baselines need two completions")
        mini = self.minibatch_size
        if mini < 1 or self.completions_per_step % mini:
            raise ValueError(f"minibatch ({mini}) must divide the {self.completions_per_step} completions "
                             "of a round (prompts_per_step x num_generations)")
        if self.micro_batch < 1 or mini % self.micro_batch:
            raise ValueError(f"micro_batch ({self.micro_batch}) must divide the minibatch ({mini})")
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")

    @property
    def completions_per_step(self) -> int:
        """Completions sampled per round (trl's generation batch)."""
        return self.prompts_per_step * self.num_generations

    @property
    def minibatch_size(self) -> int:
        return self.completions_per_step if self.minibatch is None else self.minibatch

    @property
    def optimizer_steps(self) -> int:
        """Adam steps of the whole run: per round, ``epochs`` passes of completions / minibatch steps."""
        return self.steps * self.epochs * (self.completions_per_step // self.minibatch_size)

    @classmethod
    def for_mode(cls, mode: Mode) -> "TRLConfig":
        sizes = {Mode.FULL: {}, Mode.BOOK: dict(steps=8, prompts_per_step=4),
                 Mode.SMOKE: dict(steps=2, prompts_per_step=2)}[mode]
        return replace(cls(), **sizes)


def trainer_args(cfg: TRLConfig, output_dir: Path, device: str = "cpu"):
    """GRPOConfig / RLOOConfig with the book's settings and the CPU traps avoided.

    trl's sizes are per process: under ``accelerate launch`` with P processes the per-process
    gradient accumulation and generation steps are divided by P, so that a round still samples
    ``completions_per_step`` completions and an optimizer step still sees ``minibatch`` of them
    (spec-scaling-out); trl's own Accelerator splits them and averages the gradients.
    """
    from trl import GRPOConfig, RLOOConfig

    procs = distributed.launch_size()
    per_process = cfg.micro_batch * procs
    if cfg.minibatch_size % per_process or cfg.completions_per_step % per_process:
        raise ValueError(f"with {procs} processes, micro_batch x processes ({per_process}) must divide the "
                         f"minibatch ({cfg.minibatch_size}) and the round's {cfg.completions_per_step} completions: "
                         "lower micro_batch or change the process count")

    # A round samples completions_per_step completions (the generation batch), then makes `epochs`
    # passes over them in optimizer steps of `minibatch`, each scored and back-propagated micro_batch
    # completions at a time: on CPU trl's log-prob head materialises (rows x (P + T) x V) float logits
    # in one tile, so peak memory grows with the rows of one forward (spec-trl). The learning rate is
    # constant, as in our PPO (transformers' default decays it linearly to 0).
    common = dict(output_dir=str(output_dir), learning_rate=cfg.lr, max_steps=cfg.optimizer_steps,
                  lr_scheduler_type="constant", num_iterations=cfg.epochs,
                  per_device_train_batch_size=cfg.micro_batch,
                  gradient_accumulation_steps=cfg.minibatch_size // per_process,
                  steps_per_generation=cfg.completions_per_step // per_process,
                  num_generations=cfg.num_generations, max_completion_length=cfg.max_new_tokens,
                  temperature=cfg.temperature, top_p=1.0, top_k=0, beta=cfg.beta, epsilon=cfg.clip_range,
                  seed=cfg.seed, logging_steps=1, save_strategy="no", report_to="none",
                  disable_tqdm=True, use_cpu=device == "cpu", bf16=models.pick_dtype(device) == torch.bfloat16,
                  gradient_checkpointing=False)     # trl's default (True) recomputes activations: slower, and
                                                    # memory is not the constraint at these sizes
    return (GRPOConfig if cfg.algorithm == "grpo" else RLOOConfig)(**common)


def peft_config(model_type: str, cfg: lora.LoRAConfig):
    """peft LoraConfig equal to what :func:`recrl_core.llm.lora.add_lora` builds."""
    from peft import LoraConfig

    gpt2 = model_type == "gpt2"
    targets = list(lora.GPT2_TARGETS if gpt2 else cfg.target_modules)
    return LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                      task_type="CAUSAL_LM", fan_in_fan_out=gpt2,
                      layers_to_transform=None if cfg.layers is None else list(cfg.layers))


def train(model_dir: str | Path, tokenizer, prompts: list[str], reward_fn, cfg: TRLConfig,
          lora_cfg: lora.LoRAConfig, output_dir: Path, device: str = "cpu"):
    """Run GRPO or RLOO for ``cfg.steps`` sampling rounds; returns ``(trainer, log, seconds)``.

    Args:
        model_dir: a saved model folder (never an in-memory model, see module docs).
        prompts: chat-formatted prompt strings; trl samples them (seeded).
        reward_fn: ``f(completions, prompts, **kwargs) -> list[float]``.
    Returns:
        the trainer (``trainer.model`` is the LoRA policy), ``trainer.state.log_history``
        (one dict per sampling round, logged at the optimizer step that sampled it: ``reward``,
        ``kl``, ``completions/mean_length``, ...) and the
        wall time of ``trainer.train()``.
    """
    from datasets import Dataset
    from transformers import AutoConfig
    from trl import GRPOTrainer, RLOOTrainer

    model_type = AutoConfig.from_pretrained(str(model_dir)).model_type
    trainer_cls = GRPOTrainer if cfg.algorithm == "grpo" else RLOOTrainer
    trainer = trainer_cls(model=str(model_dir), reward_funcs=[reward_fn],
                          args=trainer_args(cfg, output_dir, device),
                          train_dataset=Dataset.from_dict({"prompt": list(prompts)}),
                          processing_class=tokenizer, peft_config=peft_config(model_type, lora_cfg))
    t0 = time.perf_counter()
    trainer.train()
    return trainer, [row for row in trainer.state.log_history if "reward" in row], \
        time.perf_counter() - t0
