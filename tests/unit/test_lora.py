"""LoRA: only lora_ parameters train; the reference is the adapter switched off."""

import pytest
import torch

from recrl_core.llm import generation, logprobs, lora, models, prompts


def _batch(tok, model):
    ps = [prompts.genre_prompt(tok, ["Heat (1995)"]), prompts.genre_prompt(tok, ["Jumanji (1995)", "Up (2009)"])]
    return generation.generate(model, tok, ps, dict(generation.GENERATION_DEFAULTS, max_new_tokens=6), seed=1)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_only_lora_parameters_require_grad(arch, lm_tokenizer):
    base = models.tiny_causal_lm(arch, vocab_size=len(lm_tokenizer), tokenizer=lm_tokenizer)
    model = lora.add_lora(base, lora.LoRAConfig(r=4))
    names = lora.trainable_parameter_names(model)
    assert names and all("lora_" in n for n in names)
    trainable, total, frac = lora.trainable_fraction(model)
    assert trainable == sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    assert 0 < frac < 0.05 and frac == trainable / total


def test_reference_mode_equals_the_base_model(tiny_lm, lm_tokenizer):
    batch = _batch(lm_tokenizer, tiny_lm)
    with torch.no_grad():
        base = logprobs.token_logprobs(tiny_lm, batch, 0.7)
        model = lora.add_lora(tiny_lm, lora.LoRAConfig(r=4))
        assert torch.equal(logprobs.token_logprobs(model, batch, 0.7), base)     # B = 0 at init
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.add_(0.5)
        moved = logprobs.token_logprobs(model, batch, 0.7)
        with lora.reference_mode(model):
            ref = logprobs.token_logprobs(model, batch, 0.7)
    assert not torch.allclose(moved, base)
    assert torch.equal(ref, base)


def test_adapter_save_and_load_round_trip(tmp_path, lm_tokenizer):
    make = lambda: models.tiny_causal_lm(vocab_size=len(lm_tokenizer), tokenizer=lm_tokenizer)  # noqa: E731
    model = lora.add_lora(make(), lora.LoRAConfig(r=4))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_()
    batch = _batch(lm_tokenizer, model)
    lora.save_adapter(model, tmp_path / "adapter")
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
    loaded = lora.load_adapter(make(), tmp_path / "adapter")
    with torch.no_grad():
        assert torch.allclose(logprobs.token_logprobs(loaded, batch), logprobs.token_logprobs(model, batch))


@pytest.mark.llm
def test_smollm2_trainable_fraction_matches_the_formula(lm_tokenizer):
    from transformers import AutoConfig, LlamaForCausalLM

    cfg = AutoConfig.from_pretrained(models.converted_smollm2())
    model = lora.add_lora(LlamaForCausalLM(cfg), lora.LoRAConfig(r=8, target_modules=("q_proj", "v_proj")))
    trainable, total, frac = lora.trainable_fraction(model)
    head = cfg.hidden_size // cfg.num_attention_heads
    shapes = {"q_proj": (cfg.hidden_size, cfg.hidden_size),
              "v_proj": (cfg.hidden_size, cfg.num_key_value_heads * head)}
    assert trainable == lora.lora_parameter_count(cfg.hidden_size, cfg.num_hidden_layers, shapes, r=8) == 460_800
    assert total == 134_515_008 + 460_800
    assert round(100 * frac, 2) == 0.34
