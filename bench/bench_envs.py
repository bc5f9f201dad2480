#!/usr/bin/env python
"""Benchmark: simulator throughput, a batch of users stepped with NumPy vs a loop of single gymnasium envs.

For the interest-evolution simulator (full-size world: 10,000 users, 1,000 items)
and the MovieLens-grounded simulator (whole ml-latest-small, book-mode world), it
runs ``--users`` sessions (default 1,024) to their end with uniformly random
actions, as one ``*VecEnv`` batch (``--rounds`` batches, default 20, because one
batch takes only tens of milliseconds) and as a Python loop of single ``*Env``
instances over the first batch's seeds and actions. The loop is the baseline,
measured in the same run; on the shared batch both must produce identical total
rewards and step counts (checked).
Throughput is user-steps per second (one recommendation to one user). Each
configuration runs in a fresh subprocess, so its peak RSS is its own; the world
(for MovieLens: loading and the two ALS fits) is built before timing starts.

Prints JSON and writes ``bench/out/envs.json``.
Usage: ``RECRL_DATA_DIR=... OMP_NUM_THREADS=1 python bench/bench_envs.py [--users 1024]``
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ENVS = ("interest", "movielens")
WAYS = ("vectorised", "single_loop")


def _build(name: str):
    """(vec_env, single_env, build seconds) for one simulator."""
    start = time.perf_counter()
    if name == "interest":
        from recrl_core.envs import interest

        cfg = interest.InterestEnvConfig()
        world = interest.sample_world(cfg)
        pair = interest.InterestVecEnv(cfg, world), interest.InterestEnv(cfg, world)
    else:
        from recrl_core import config
        from recrl_core.config import Mode
        from recrl_core.envs import grounded

        cfg = grounded.GroundedConfig.for_mode(Mode.BOOK)
        world = grounded.load_world(cfg, config.data_dir())
        pair = grounded.GroundedVecEnv(cfg, world), grounded.GroundedEnv(cfg, world)
    return (*pair, time.perf_counter() - start)


def measure_one(name: str, way: str, users: int, rounds: int) -> dict:
    """Run ``rounds`` x ``users`` sessions one way; return wall time, user-steps and their rate.

    Round r uses episode seeds ``episode_seeds(r, users)``; round 0's totals are
    reported separately, to check that the batch and the loop agree exactly.
    """
    import numpy as np

    from recrl_core.envs import session

    vec, single, build_s = _build(name)
    actions = np.random.default_rng(1).integers(vec.num_items, size=(vec.max_turn, users))   # (T, B)
    run = _run_vectorised if way == "vectorised" else _run_loop
    env = vec if way == "vectorised" else single
    start = time.perf_counter()
    results = [run(env, session.episode_seeds(r, users), actions) for r in range(rounds)]
    wall = time.perf_counter() - start
    steps = sum(r[0] for r in results)
    return {"env": name, "way": way, "users": users, "rounds": rounds, "num_items": vec.num_items,
            "user_steps": steps, "wall_s": round(wall, 3), "user_steps_per_s": round(steps / wall, 1),
            "round0_user_steps": results[0][0], "round0_total_reward": float(results[0][1]),
            "world_build_s": round(build_s, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _run_vectorised(vec, seeds, actions):
    vec.reset(seeds)
    steps, total, t = 0, 0.0, 0
    while not vec.s.done.all():
        _, reward, _, _, info = vec.step(actions[t])
        steps, total, t = steps + int(info["active"].sum()), total + reward.sum(), t + 1
    return steps, total


def _run_loop(single, seeds, actions):
    steps, total = 0, 0.0
    for b, seed in enumerate(seeds):
        single.reset(seed=seed)
        for action in actions[:, b]:
            _, reward, terminated, truncated, _ = single.step(int(action))
            steps, total = steps + 1, total + reward
            if terminated or truncated:
                break
    return steps, total


def run_child(name: str, way: str, users: int, rounds: int) -> dict:
    args = [sys.executable, __file__, "--one", name, way, "--users", str(users), "--rounds", str(rounds)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=20, help="batches of --users sessions (the loop: 1)")
    parser.add_argument("--one", nargs=2, metavar=("ENV", "WAY"))
    parser.add_argument("--out", type=Path, default=Path("bench/out/envs.json"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_one(*args.one, args.users, args.rounds)))
        return
    runs = [run_child(name, way, args.users, args.rounds if way == "vectorised" else 1)
            for name in ENVS for way in WAYS]
    speedup = {}
    for name in ENVS:
        vec, loop = (next(r for r in runs if r["env"] == name and r["way"] == way) for way in WAYS)
        if (vec["round0_total_reward"], vec["round0_user_steps"]) != (loop["round0_total_reward"],
                                                                      loop["round0_user_steps"]):
            raise AssertionError(f"{name}: the batch and the loop disagree: {vec} vs {loop}")
        speedup[name] = round(vec["user_steps_per_s"] / loop["user_steps_per_s"], 1)
    from recrl_core import results

    results.write_report({"benchmark": f"simulator throughput, {args.users} users, random actions",
                          "runs": runs, "speedup_vectorised_vs_loop": speedup}, args.out)


if __name__ == "__main__":
    main()
