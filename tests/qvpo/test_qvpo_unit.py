"""QVPO unit tests: schedule, weights, entropy term, best-of-K, TD targets, agent contract.

Golden values are computed independently here (closed forms in float64 / hand-made batches),
never by calling the code under test twice.
"""

from __future__ import annotations

import io
import math

import pytest
import torch

from baselines.qvpo.agent import QVPOAgent
from baselines.qvpo.config import PRESETS, TUNED, QVPOConfig, preset_overrides
from baselines.qvpo.losses import (
    add_uniform_actions,
    critic_loss,
    entropy_alpha_at,
    q_weights,
    select_best,
    td_target,
)
from harness.agent import Transition
from harness.config import ConfigError, apply_overrides
from harness.diffusion import GaussianDiffusion
from harness.env import EnvSpec
from harness.seeding import RunSeeds

SMALL = QVPOConfig(
    actor_hidden=(16, 16), critic_hidden=(16, 16), time_dim=8, batch_size=8, train_samples=4,
    learning_starts=0, replay_size=64, n_timesteps=5, activation="silu",
)


def _agent(cfg: QVPOConfig = SMALL, S: int = 3, A: int = 2, N: int = 4) -> QVPOAgent:
    spec = EnvSpec(S, A, N, 10, 1.0, "cpu")
    return QVPOAgent(cfg, spec, RunSeeds.derive(0, "toy/Test", "qvpo"), "cpu")


def _transition(ag: QVPOAgent, **kw) -> Transition:
    N, S, A = ag.spec.num_envs, ag.spec.obs_dim, ag.spec.action_dim
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(N, S, generator=g)
    base = dict(
        obs=obs, action=torch.rand(N, A, generator=g) * 2 - 1, reward=torch.ones(N), next_obs=obs + 1.0,
        carry_obs=obs - 1.0, terminated=torch.zeros(N, dtype=torch.bool), truncated=torch.zeros(N, dtype=torch.bool),
        final_obs_valid=True, extras={},
    )
    base.update(kw)
    return Transition(**base)


# -- diffusion schedule ---------------------------------------------------------------------------
def test_cosine_schedule_matches_closed_form():
    """Upstream helpers.cosine_beta_schedule: x = linspace(0, T+1, T+1), alpha_bar = cos^2((x/(T+1) + s)/(1+s) pi/2)."""
    T, s = 20, 0.008
    steps = T + 1
    ab = [math.cos(((k * steps / T) / steps + s) / (1 + s) * math.pi / 2) ** 2 for k in range(steps)]
    ab = [a / ab[0] for a in ab]
    betas = [min(max(1 - ab[k + 1] / ab[k], 0.0), 0.999) for k in range(T)]
    d = GaussianDiffusion.cosine(T)
    assert torch.allclose(d.betas.double(), torch.tensor(betas, dtype=torch.float64), atol=1e-6, rtol=1e-5)
    cum = 1.0
    for k in range(T):
        cum *= 1 - betas[k]
        assert d.alphas_cumprod[k].item() == pytest.approx(cum, rel=1e-5, abs=1e-7)
    assert d.betas[-1].item() == pytest.approx(0.999)  # the last beta is clipped
    agent = _agent(QVPOConfig(**{**SMALL.__dict__, "n_timesteps": 20}))
    assert torch.allclose(agent.diffusion.betas.double(), torch.tensor(betas, dtype=torch.float64), atol=1e-6)


# -- weights --------------------------------------------------------------------------------------
def test_qadv_weights_hand_made_batch():
    q_all = torch.tensor([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 0.0, 0.0], [-1.0, -3.0, -2.0, -2.0]])
    best, q_best = select_best(torch.zeros(3, 4, 1), q_all)
    # means 3.0, 0.0, -2.0; best 6.0, 0.0, -1.0 -> weights 3.0, 0.0, 1.0
    w = q_weights("qadv", q_best, q_all)
    assert w.tolist() == [3.0, 0.0, 1.0]
    # a best that is below the mean (not the argmax, e.g. chosen externally) is clamped to 0
    assert q_weights("qadv", torch.tensor([1.0]), torch.tensor([[1.0, 5.0]])).tolist() == [0.0]


def test_other_q_transforms():
    q = torch.tensor([-2.0, 0.5, 3.0])
    assert q_weights("qrelu", q, q[:, None], q_neg=1.0).tolist() == [0.0, 1.5, 4.0]
    assert q_weights("qcut", q, q[:, None], cut=1.0).tolist() == [1.0, 1.0, 3.0]
    e = q_weights("qexpn", q, q[:, None], beta=0.5, running_mean=1.0, running_std=0.1)
    expect = [math.exp(0.5 * max(-8.0, min(8.0, (v - 1.0) / 0.1))) for v in q.tolist()]
    assert e.tolist() == pytest.approx(expect, rel=1e-6)
    with pytest.raises(ValueError):
        q_weights("qfoo", q, q[:, None])


# -- entropy term ---------------------------------------------------------------------------------
def test_uniform_actions_carry_alpha_times_weight():
    B, A, S, num, alpha = 3, 2, 4, 10, 0.02
    obs = torch.arange(B * S, dtype=torch.float32).reshape(B, S)
    act = torch.full((B, A), 0.5)
    w = torch.tensor([3.0, 0.0, 1.0])
    o, a, ww = add_uniform_actions(obs, act, w, num, alpha, torch.Generator().manual_seed(0))
    assert o.shape == (B * (1 + num), S) and a.shape == (B * (1 + num), A) and ww.shape == (B * (1 + num),)
    assert torch.equal(o[:B], obs) and torch.equal(a[:B], act) and torch.equal(ww[:B], w)
    for j in range(num):
        blk = slice(B * (1 + j), B * (2 + j))
        assert torch.equal(o[blk], obs)  # state b of every block is obs[b]
        assert torch.allclose(ww[blk], alpha * w)
    u = a[B:]
    assert bool((u >= -1).all() and (u <= 1).all()) and u.std() > 0.3  # uniform on [-1, 1]
    assert add_uniform_actions(obs, act, w, 0, alpha, None)[2] is w


def test_entropy_alpha_schedule_hits_floor():
    a0, floor, H = 0.02, 0.002, 1_000_000
    assert entropy_alpha_at(0, a0, floor, H) == a0
    assert entropy_alpha_at(500_000, a0, floor, H) == pytest.approx(0.01)
    assert entropy_alpha_at(900_000, a0, floor, H) == pytest.approx(floor)
    assert entropy_alpha_at(950_000, a0, floor, H) == floor
    assert entropy_alpha_at(5 * H, a0, floor, H) == floor
    vals = [entropy_alpha_at(s, a0, floor, H) for s in range(0, 2 * H, 50_000)]
    assert all(x >= y for x, y in zip(vals, vals[1:]))  # monotone non-increasing


def test_agent_alpha_decays_with_observed_env_steps():
    cfg = QVPOConfig(**{**SMALL.__dict__, "schedule_env_steps": 40, "updates_per_env_step": 0.25})
    ag = _agent(cfg)  # 4 envs: 4 env steps and 1 gradient step per vector step
    assert ag.entropy_alpha == 0.02
    alphas = []
    for _ in range(12):
        ag.observe(_transition(ag))
        assert ag.ready()
        alphas.append(ag.update()["entropy_alpha"])
    assert alphas[0] == pytest.approx(0.02 * (1 - 4 / 40))
    assert alphas[-1] == 0.002 and alphas[8] == pytest.approx(0.002)  # 36 of 40 steps -> floor


def test_batched_chain_equals_harness_sampler():
    """The agent's chain (precomputed scalars, one eps-net pass per step for all K candidates) draws the
    same numbers as GaussianDiffusion.p_sample_loop with the same generator, noise on and off."""
    ag = _agent()
    obs = torch.randn(3, 3)
    for ratio in (1.0, 0.0):
        got = ag.sample_actions(ag.actor, obs, 5, torch.Generator().manual_seed(11), ratio)
        cond = ag.actor.cond(obs).repeat_interleave(5, 0)
        table = ag.actor.time_table()
        ref = ag.diffusion.p_sample_loop(lambda x, t: ag.actor.eps(x, t, cond, table), (15, 2),
                                         torch.Generator().manual_seed(11), clip=1.0, noise_ratio=ratio)
        assert torch.allclose(got, ref.clamp(-1, 1).reshape(3, 5, 2), atol=1e-5)
    # and the split first layer equals the plain concatenation [x, emb(t), s] of upstream's Model
    x, t = torch.randn(4, 2), torch.tensor([0, 1, 2, 4])
    s4 = torch.randn(4, 3)
    emb = ag.actor.time_mlp(t)
    h = ag.actor.first(torch.cat([x, emb, s4], -1))
    assert torch.allclose(ag.actor(x, t, s4), ag.actor.trunk(ag.actor.act(h)), atol=1e-5)


# -- best-of-K ------------------------------------------------------------------------------------
def test_select_best_picks_argmax():
    g = torch.Generator().manual_seed(3)
    acts = torch.randn(5, 7, 3, generator=g)
    q = torch.randn(5, 7, generator=g)
    best, q_best = select_best(acts, q)
    for b in range(5):
        k = int(q[b].argmax())
        assert torch.equal(best[b], acts[b, k]) and q_best[b] == q[b].max()


def test_agent_best_of_uses_critic_argmax():
    ag = _agent()
    obs = torch.randn(6, 3)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    best, q_best, cand, q = ag.best_of(ag.actor, ag.critic, obs, 8, g1)
    assert cand.shape == (6, 8, 2) and q.shape == (6, 8)
    q_ref = ag.critic.min_q(obs.repeat_interleave(8, 0), cand.reshape(48, 2)).reshape(6, 8)
    assert torch.allclose(q, q_ref)
    assert torch.equal(best, cand[torch.arange(6), q_ref.argmax(1)])
    # same generator state -> same candidates (batched chain draws only from the given generator)
    assert torch.equal(ag.sample_actions(ag.actor, obs, 8, g2, 1.0), cand)


# -- TD target and time limits --------------------------------------------------------------------
def test_td_target_terminated_vs_truncated():
    r = torch.tensor([1.0, 1.0, 1.0])
    nq = torch.tensor([10.0, 10.0, 10.0])
    term = torch.tensor([False, True, False])
    # index 2 is a time-out: it bootstraps exactly like a non-terminal step
    y = td_target(r, term, nq, 0.9)
    assert y.tolist() == pytest.approx([10.0, 1.0, 10.0])
    assert critic_loss(y, y, y).item() == 0.0


def test_agent_td_targets_cut_only_by_termination():
    """With a target critic that outputs a constant 5, the agent's TD target is r for terminated rows
    and r + gamma * 5 for truncated and ordinary rows (time-outs bootstrap from the final obs)."""
    ag = _agent(N=3)
    with torch.no_grad():
        for head in (ag.critic_target.q1, ag.critic_target.q2):
            head[-1].weight.zero_()
            head[-1].bias.fill_(5.0)
    term = torch.tensor([True, False, False])
    trunc = torch.tensor([False, True, False])
    ag.observe(_transition(ag, terminated=term, truncated=trunc, reward=torch.tensor([1.0, 2.0, 3.0])))
    b = {k: v[:, 0] for k, v in ag.buffer.data.items()}
    assert b["terminated"].tolist() == [True, False, False] and b["truncated"].tolist() == [False, True, False]
    y = ag.td_targets(b)
    assert y.tolist() == pytest.approx([1.0, 2.0 + 0.99 * 5.0, 3.0 + 0.99 * 5.0])
    # the same batch with the time-out treated as terminal (upstream QVPO) would cut the bootstrap
    y_up = ag.td_targets({**b, "terminated": b["terminated"] | b["truncated"]})
    assert y_up.tolist() == pytest.approx([1.0, 2.0, 3.0 + 0.99 * 5.0])


@pytest.mark.parametrize("fallback", ["current_obs", "reset_obs", "terminal"])
def test_timeout_fallback_without_final_obs(fallback):
    cfg = QVPOConfig(**{**SMALL.__dict__, "timeout_fallback": fallback})
    ag = _agent(cfg, N=2)
    trunc = torch.tensor([False, True])
    t = _transition(ag, truncated=trunc, final_obs_valid=False, next_obs=torch.full((2, 3), 7.0))
    ag.observe(t)
    stored_next = ag.buffer.data["next_obs"][:, 0]
    stored_term = ag.buffer.data["terminated"][:, 0]
    assert torch.equal(stored_next[0], torch.full((3,), 7.0))  # not ended: untouched
    if fallback == "current_obs":
        assert torch.equal(stored_next[1], t.obs[1]) and not stored_term[1]
    elif fallback == "reset_obs":
        assert torch.equal(stored_next[1], torch.full((3,), 7.0)) and not stored_term[1]
    else:
        assert bool(stored_term[1])


# -- agent contract -------------------------------------------------------------------------------
def test_update_metrics_and_reuse():
    cfg = QVPOConfig(**{**SMALL.__dict__, "updates_per_env_step": 0.5})
    ag = _agent(cfg, N=4)
    ag.observe(_transition(ag))
    assert ag.ready()
    m = ag.update()
    assert m["gradient_steps"] == 2.0 and m["gradient_steps_per_vector_step"] == 2.0
    assert m["sample_reuse"] == pytest.approx(2 * 8 / 4)
    assert all(math.isfinite(v) for v in m.values())
    assert not ag.ready()
    cfg2 = QVPOConfig(**{**SMALL.__dict__, "updates_per_vector_step": 0.5})
    ag2 = _agent(cfg2, N=4)
    ag2.observe(_transition(ag2))
    assert not ag2.ready()
    ag2.observe(_transition(ag2))
    assert ag2.ready() and ag2.update()["gradient_steps"] == 1.0


def test_warmup_is_uniform_and_eval_never_touches_training_state():
    cfg = QVPOConfig(**{**SMALL.__dict__, "learning_starts": 100})
    ag = _agent(cfg)
    obs = torch.randn(4, 3)
    a, _ = ag.act(obs)
    assert a.shape == (4, 2) and bool((a.abs() <= 1).all())
    assert not ag.ready()
    ag.observe(_transition(ag))
    state = ag.gen.get_state().clone()
    params = [p.clone() for p in ag.actor.parameters()]
    g = torch.Generator().manual_seed(0)
    for mode in ag.eval_modes:
        out = ag.eval_act(obs, mode, g)
        assert out.shape == (4, 2) and bool((out.abs() <= 1).all())
    det1 = ag.eval_act(obs, "deterministic", torch.Generator().manual_seed(9))
    det2 = ag.eval_act(obs, "deterministic", torch.Generator().manual_seed(9))
    ag.eval_act(obs, "stochastic", g)
    assert torch.equal(det1, det2)
    assert torch.equal(ag.gen.get_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(params, ag.actor.parameters()))
    assert set(ag.eval_modes) == {"best_of_32_by_q", "single_sample"}


def test_state_dict_roundtrip_reproduces_updates():
    ag = _agent(QVPOConfig(**{**SMALL.__dict__, "updates_per_env_step": 0.25}))
    for _ in range(3):
        ag.observe(_transition(ag))
        ag.update()
    buf = io.BytesIO()  # through bytes, as the runner's checkpoint (no aliasing of tensors)
    torch.save(ag.state_dict(), buf)
    buf.seek(0)
    ag2 = _agent(QVPOConfig(**{**SMALL.__dict__, "updates_per_env_step": 0.25}))
    ag2.load_state_dict(torch.load(buf, weights_only=False))
    for a in (ag, ag2):
        a.observe(_transition(a))
    assert ag.update() == ag2.update()


def test_config_presets_and_validation():
    cfg = apply_overrides(QVPOConfig(), preset_overrides("parallel"))
    assert cfg.updates_per_vector_step > 0 and cfg.batch_size > 256
    assert apply_overrides(QVPOConfig(), preset_overrides("upstream")) == QVPOConfig()
    for table in list(PRESETS.values()) + list(TUNED.values()):
        apply_overrides(QVPOConfig(), table)
    with pytest.raises(ConfigError):
        apply_overrides(QVPOConfig(), {"eval_extra": "best_of_16"})
    with pytest.raises(ConfigError):
        apply_overrides(QVPOConfig(), {"updates_per_env_step": 0.0})
    with pytest.raises(KeyError):
        preset_overrides("huge")
