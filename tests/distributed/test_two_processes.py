"""Two processes under ``accelerate launch`` (gloo on this CPU) give what one process gives.

Each test runs ``worker.py PART`` once as a plain process and once as two launched processes,
then compares the outputs: the LE pass's and the candidate-scoring pass's cache files byte for
byte, three SQN/SA2C updates, an interrupted-and-resumed SA2C fit and one PPO and one GRPO update
within float tolerance, a grid's table exactly; two-process PPO training resumes exactly, and
trl's GRPO route keeps its round size and one model over two processes.
Spec: spec-scaling-out.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("accelerate")
from safetensors.torch import load_file  # noqa: E402

WORKER = Path(__file__).with_name("worker.py")
CPU_CONFIG = Path(__file__).resolve().parents[2] / "accelerate" / "cpu_2_processes.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(part: str, out: Path, processes: int) -> Path:
    env = os.environ | {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    cmd = [sys.executable, str(WORKER), part, str(out)]
    if processes > 1:                         # the shipped CPU config: torchrun underneath, gloo (no GPU)
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(CPU_CONFIG),
               "--num_processes", str(processes), "--main_process_port", str(_free_port()), *cmd[1:]]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "world.json").read_text())["size"] == processes
    return out


# Parts that share one launch (each launch pays for starting Python, torch and the process group).
LAUNCHES = ["step,fit,grid", "le-pass,scores", "ppo-update,grpo-update,trl", "ppo-fit"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    cache: dict[tuple[str, int], Path] = {}

    def get(part: str, processes: int) -> Path:
        launch = next(group for group in LAUNCHES if part in group.split(","))
        if (launch, processes) not in cache:
            out = tmp_path_factory.mktemp(f"{launch.replace(',', '-')}-{processes}")
            cache[launch, processes] = run(launch, out, processes)
        return cache[launch, processes]
    return get


def test_a_sharded_le_pass_writes_the_single_process_cache_file_bit_for_bit(outputs):
    one, two = outputs("le-pass", 1), outputs("le-pass", 2)
    files_one = sorted((one / "cache" / "lea-pass").glob("*.safetensors"))
    files_two = sorted((two / "cache" / "lea-pass").glob("*.safetensors"))
    assert [f.name for f in files_one] == [f.name for f in files_two] and len(files_one) == 1   # same key
    assert files_one[0].read_bytes() == files_two[0].read_bytes()                                # same bytes
    returned = [load_file(str(two / f"returned-rank{r}.safetensors")) for r in (0, 1)]
    for name, value in load_file(str(one / "returned-rank0.safetensors")).items():
        for rank in returned:                                        # every process holds the whole pass
            assert torch.equal(rank[name], value), name


def test_two_process_updates_equal_one_process_step_on_the_global_batch(outputs):
    one, two = outputs("step", 1), outputs("step", 2)
    log_one, log_two = json.loads((one / "step.json").read_text()), json.loads((two / "step.json").read_text())
    assert [(r["method"], r["step"], r["main"]) for r in log_one] == [(r["method"], r["step"], r["main"]) for r in log_two]
    for a, b in zip(log_one, log_two):                              # logged losses: the global batch's means
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)
    for method in ("sqn", "sa2c"):
        w1, w2 = load_file(str(one / f"{method}.safetensors")), load_file(str(two / f"{method}.safetensors"))
        for name in w1:
            torch.testing.assert_close(w2[name], w1[name], rtol=1e-5, atol=1e-6)


def test_a_resumed_two_process_fit_follows_the_one_process_trajectory(outputs):
    one, two = outputs("fit", 1), outputs("fit", 2)
    assert json.loads((one / "fit.json").read_text())["best_step"] == json.loads((two / "fit.json").read_text())["best_step"]
    h1, h2 = (json.loads((d / "history.json").read_text()) for d in (one, two))
    assert len(h1) == len(h2)
    for a, b in zip(h1, h2):
        assert a.keys() == b.keys()
        for k in a:
            if a[k] is not None:
                assert np.isclose(a[k], b[k], rtol=1e-5, atol=1e-6), (a["update"], k, a[k], b[k])
    b1, b2 = load_file(str(one / "best.safetensors")), load_file(str(two / "best.safetensors"))
    for name in b1:
        torch.testing.assert_close(b2[name], b1[name], rtol=1e-5, atol=1e-6)


def test_a_grid_over_two_processes_gives_the_one_process_table(outputs):
    one, two = outputs("grid", 1), outputs("grid", 2)
    table_one, table_two = (json.loads((d / "grid.json").read_text()) for d in (one, two))
    assert table_one == table_two and len(table_one) == 4
    assert sorted(p.name for p in (two / "runs").glob("*.json")) == sorted(p.name for p in (one / "runs").glob("*.json"))


def test_sharded_candidate_scoring_writes_the_single_process_cache(outputs):
    """iALP's labelling and LAAC's suggestions score through this pass (llm.candidates)."""
    one, two = outputs("scores", 1), outputs("scores", 2)
    files_one = {p.relative_to(one / "cache"): p.read_bytes() for p in (one / "cache").rglob("*.json")}
    files_two = {p.relative_to(two / "cache"): p.read_bytes() for p in (two / "cache").rglob("*.json")}
    assert len(files_one) > 60 and files_one == files_two      # same keys, same bytes (repeated prompts share one)
    found = [json.loads((d / f"returned-rank{r}.json").read_text()) for d, r in ((one, 0), (two, 0), (two, 1))]
    assert found[0] == found[1] == found[2]                                  # every process has every score


@pytest.mark.parametrize("algo", ["ppo", "grpo"])
def test_a_two_process_llm_update_equals_the_one_process_update(outputs, algo):
    """Our PPO and GRPO: each process holds a block of a round's rows (GRPO: whole groups);
    the update, its logged statistics and every process's weights are the whole round's."""
    one, two = outputs(f"{algo}-update", 1), outputs(f"{algo}-update", 2)
    s1, s2 = json.loads((one / f"{algo}.json").read_text()), json.loads((two / f"{algo}.json").read_text())
    assert list(s1) == list(s2)
    for k in s1:
        assert s2[k] == pytest.approx(s1[k], rel=1e-5, abs=1e-6), k
    w1 = load_file(str(one / f"{algo}-rank0.safetensors"))
    for rank in (0, 1):
        w2 = load_file(str(two / f"{algo}-rank{rank}.safetensors"))
        for name in w1:
            torch.testing.assert_close(w2[name], w1[name], rtol=1e-5, atol=1e-6)


def test_two_process_ppo_training_resumes_exactly_and_keeps_the_processes_equal(outputs):
    two = outputs("ppo-fit", 2)
    runs = json.loads((two / "ppo_fit.json").read_text())
    assert len(runs["straight"]) == 3 and runs["resumed"] == runs["straight"]
    straight = [load_file(str(two / f"straight-rank{r}.safetensors")) for r in (0, 1)]
    resumed = [load_file(str(two / f"resumed-rank{r}.safetensors")) for r in (0, 1)]
    for name in straight[0]:
        assert torch.equal(straight[0][name], straight[1][name])          # both processes hold one model
        assert torch.equal(resumed[0][name], straight[0][name])           # resume is exact


def test_trl_grpo_under_two_processes_keeps_the_round_size_and_one_model(outputs):
    """trl's route through its own Accelerator: a round is still completions_per_step completions
    (split over the processes, trl's sizes being per process) and both processes hold one model."""
    one, two = outputs("trl", 1), outputs("trl", 2)
    alone = json.loads((one / "trl-rank0.json").read_text())
    ranks = [json.loads((two / f"trl-rank{r}.json").read_text()) for r in (0, 1)]
    assert alone["seen"] == [alone["completions_per_step"]] * alone["rounds"]
    assert all(r["rounds"] == alone["rounds"] for r in ranks)
    assert [a + b for a, b in zip(ranks[0]["seen"], ranks[1]["seen"])] == alone["seen"]
    w0, w1 = (load_file(str(two / f"trl-rank{r}.safetensors")) for r in (0, 1))
    assert w0 and all(torch.equal(w0[k], w1[k]) for k in w0)
