"""Experiment-tracking sinks: TensorBoard events read back, W&B offline transaction log read back,
and sinks that are unavailable or break mid-run never stop a run (one message each)."""

from __future__ import annotations

import glob
import json
import struct
import sys
import time

import pytest

from harness import records
from harness.runner import RunSpec, run
from harness.tracking import parse_sinks


def _run(tmp_path, log, **kw):
    spec = RunSpec(algo="ppo", task="toy/Target1D", seed=0, out=str(tmp_path / "out"), env_steps=2000,
                   eval_every=1000, eval_episodes=2, num_envs=8, device="cpu", progress_every=0, log=log, **kw)
    lines: list[str] = []
    from harness.runner import prepare, train

    result = train(prepare(spec), log=lines.append)
    assert result.status == "complete"
    return result.path, lines


def test_parse_sinks():
    assert parse_sinks("tensorboard, wandb") == ("tensorboard", "wandb")
    assert parse_sinks(None) == ()
    with pytest.raises(ValueError, match="allowed: tensorboard, wandb"):
        parse_sinks("tensorboard,mlflow")


def test_tensorboard_events_mirror_the_records(tmp_path):
    pytest.importorskip("tensorboard", reason="tracking extra not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    path, lines = _run(tmp_path, ("tensorboard",))
    assert not [ln for ln in lines if "sink off" in ln], lines
    ea = EventAccumulator(str(path / "tensorboard"))
    ea.Reload()
    rows = records.read_eval_rows(path)
    got = [(e.step, e.value) for e in ea.Scalars("eval/return_mean")]
    assert [s for s, _ in got] == [r["env_steps"] for r in rows] == [0, 1000, 2000]
    assert [v for _, v in got] == pytest.approx([r["return_mean"] for r in rows], rel=1e-6)
    assert "train/policy_loss" in ea.Tags()["scalars"]
    assert [e.step for e in ea.Scalars("train/policy_loss")] == [e["env_steps"] for e in records.read_train_log(path)]
    assert "run/config/text_summary" in ea.Tags()["tensors"]


def _wandb_records(path):
    """Records of a W&B offline transaction log (``run-*.wandb``): a 7-byte ``:W&B`` header, then
    LevelDB-log framing (32 KiB blocks; chunks of crc32, length, type FULL/FIRST/MIDDLE/LAST)."""
    from wandb.proto import wandb_internal_pb2 as pb

    raw = open(path, "rb").read()
    assert raw[:4] == b":W&B", raw[:7]
    pos, buf, block = 7, b"", 32768
    while pos + 7 <= len(raw):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, n, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        if kind == 0 and n == 0:
            pos += left
            continue
        data, pos = raw[pos + 7:pos + 7 + n], pos + 7 + n
        if kind in (1, 2):
            buf = data
        else:
            buf += data
        if kind in (1, 4):
            r = pb.Record()
            r.ParseFromString(buf)
            yield r


def test_wandb_offline_run_holds_config_group_and_eval_rows(tmp_path, monkeypatch):
    pytest.importorskip("wandb", reason="tracking extra not installed")
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("HOME", str(tmp_path))
    path, lines = _run(tmp_path, ("wandb",), sweep="trk")
    assert not [ln for ln in lines if "sink off" in ln], lines
    files = glob.glob(str(path / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(files) == 1, files
    deadline = time.monotonic() + 120  # wandb-core writes the log asynchronously: wait for its exit record
    while True:
        recs = list(_wandb_records(files[0]))
        if any(r.WhichOneof("record_type") == "exit" for r in recs) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    run_rec = [r.run for r in recs if r.WhichOneof("record_type") == "run"][0]
    assert (run_rec.run_group, run_rec.job_type, run_rec.display_name) == ("trk", "ppo", "toy/Target1D/ppo/seed_0")
    cfg = {i.key: json.loads(i.value_json) for i in run_rec.config.update}
    assert cfg["seed"] == 0 and cfg["task"] == "toy/Target1D" and cfg["config"]["lr"] > 0
    hist = [{i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item} for r in recs
            if r.WhichOneof("record_type") == "history"]
    evals = [(h["env_steps"], h["eval/return_mean"]) for h in hist if "eval/return_mean" in h]
    assert evals == [(r["env_steps"], pytest.approx(r["return_mean"])) for r in records.read_eval_rows(path)]


def test_unavailable_or_broken_sinks_never_stop_a_run(tmp_path, monkeypatch):
    # wandb: no login and no WANDB_MODE -> off; tensorboard: package import fails -> off
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    path, lines = _run(tmp_path, ("tensorboard", "wandb"))
    off = [ln for ln in lines if "sink off" in ln]
    assert len(off) == 2, lines
    assert "tensorboard is not installed" in off[0] and "not logged in to W&B" in off[1]
    assert [r["env_steps"] for r in records.read_eval_rows(path)] == [0, 1000, 2000]


def test_sink_that_raises_mid_run_is_switched_off_once(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard", reason="tracking extra not installed")
    from torch.utils.tensorboard import SummaryWriter

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(SummaryWriter, "add_scalar", boom)
    path, lines = _run(tmp_path, ("tensorboard",))
    off = [ln for ln in lines if "sink off" in ln]
    assert off == ["[log] tensorboard sink off: OSError: disk full (the run goes on; records are unaffected)"], lines
    assert records.read_manifest(path)["status"] == "complete"
