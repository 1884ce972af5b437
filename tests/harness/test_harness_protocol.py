"""The evaluation protocol: desynchronised training starts, never for evaluation; one meaning of
``deterministic`` and ``stochastic`` for every registered algorithm."""

from __future__ import annotations

import pytest
import torch

from harness import records
from harness.agent import STANDARD_EVAL_MODES
from harness.registry import get_algorithm, get_task, list_algorithms
from harness.runner import RunSpec, desynchronise, run
from harness.seeding import RunSeeds, derive_seed

ALGOS = [a.name for a in list_algorithms() if not a.name.startswith("test_") and not a.reference]


def _first_truncation_steps(env) -> torch.Tensor:
    """Agent steps until each env's first episode hits its time limit (zero actions)."""
    n = env.spec.num_envs
    first = torch.full((n,), -1, dtype=torch.long)
    for k in range(1, env.spec.episode_length + 1):
        _, _, terminated, truncated, _ = env.step(torch.zeros(n, env.spec.action_dim))
        first = torch.where((first < 0) & (terminated | truncated), torch.tensor(k), first)
    return first


def test_training_envs_start_desynchronised_with_offsets_shared_across_algorithms():
    task = get_task("toy/Target1D")
    seeds = {algo: RunSeeds.derive(3, task.name, algo) for algo in ("ppo", "cppo", "dacer")}
    assert len({s.env for s in seeds.values()}) == 1, "the env stream must not depend on the algorithm"
    ends = []
    for algo, s in seeds.items():
        env = task.factory(16, s.env, "cpu")
        env.reset()
        offsets = desynchronise(env, derive_seed(s.env, "desync"))
        end = _first_truncation_steps(env)
        assert torch.equal(end, env.spec.episode_length - offsets), algo
        ends.append(end)
    assert all(torch.equal(e, ends[0]) for e in ends)
    assert len(set(ends[0].tolist())) > 4, "offsets should spread the first episode ends"


def test_desync_is_recorded_and_evaluation_envs_are_never_offset(tmp_path):
    kw = dict(algo="ppo", task="toy/Target1D", seed=0, env_steps=400, eval_every=200, eval_episodes=6, num_envs=4,
              progress_every=0, overrides={"num_steps": 10})
    on = run(RunSpec(out=str(tmp_path / "on"), **kw))
    off = run(RunSpec(out=str(tmp_path / "off"), desync=False, **kw))
    assert records.read_manifest(on.path)["protocol"] == {"desync_starts": True}
    assert records.read_manifest(off.path)["protocol"] == {"desync_starts": False}
    for path in (on.path, off.path):
        # Target1D never terminates: every evaluation episode runs the full time limit from step 0
        assert {r["episode_length_mean"] for r in records.read_eval_rows(path)} == {20.0}
    # the first (untrained) evaluation does not depend on the training envs at all
    assert records.read_eval_rows(on.path)[0]["returns"] == records.read_eval_rows(off.path)[0]["returns"]
    # a run directory holding the other protocol is refused, never mixed
    with pytest.raises(ValueError, match="protocol"):
        run(RunSpec(out=str(tmp_path / "on"), desync=False, **kw))


@pytest.mark.parametrize("algo", ALGOS)
def test_deterministic_is_a_function_of_the_state_and_stochastic_is_not(algo):
    spec_ = get_algorithm(algo)
    task = get_task("toy/MultiGoal")
    from harness.config import resolve_config

    cfg = resolve_config(spec_, task, dict(spec_.tuned.get("smoke", {})))
    env = task.factory(64, 0, "cpu")
    agent = spec_.factory(cfg, env.spec, RunSeeds.derive(0, task.name, algo), "cpu")
    obs = torch.randn(64, env.spec.obs_dim, generator=torch.Generator().manual_seed(1)) * 0.5
    g = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    d1, d2 = agent.eval_act(obs, "deterministic", g(1)), agent.eval_act(obs, "deterministic", g(2))
    s1, s2 = agent.eval_act(obs, "stochastic", g(1)), agent.eval_act(obs, "stochastic", g(2))
    assert torch.equal(d1, d2), f"{algo}: deterministic evaluation depends on the generator"
    assert not torch.equal(s1, s2), f"{algo}: stochastic evaluation ignores the generator"
    assert torch.equal(s1, agent.eval_act(obs, "stochastic", g(1)))
    for a in (d1, s1):
        assert a.shape == (64, env.spec.action_dim) and float(a.abs().max()) <= 1.0
    with pytest.raises(ValueError, match="allowed: " + ", ".join(STANDARD_EVAL_MODES)):
        agent.eval_act(obs, "no_such_mode", g(1))
    desc = agent.eval_protocol
    assert set(desc) == {"deterministic", "stochastic", "extra_modes"}
    assert set(desc["extra_modes"]) == set(getattr(agent, "eval_modes", ()))


def test_reference_policies_are_recorded_as_references(tmp_path):
    kw = dict(task="toy/Target1D", seed=0, env_steps=200, eval_every=100, eval_episodes=4, num_envs=4,
              progress_every=0)
    zero = run(RunSpec(algo="zero_action", out=str(tmp_path), **kw))
    rand = run(RunSpec(algo="random_action", out=str(tmp_path), **kw))
    for r in (zero, rand):
        m = records.read_manifest(r.path)
        assert m["status"] == "complete" and m["reference"] is True and m["updates"] == 0
    z = records.read_eval_rows(zero.path)
    # the zero policy stays where it starts; its return is the same at every evaluation point
    assert len({row["return_mean"] for row in z}) == 1
    assert z[0]["return_mean"] == z[0]["stochastic_return_mean"]
    assert records.read_eval_rows(rand.path)[0]["return_mean"] != z[0]["return_mean"]
