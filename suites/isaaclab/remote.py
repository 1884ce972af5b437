"""An IsaacLab env in a child process, stepped over a pipe: the second env of a process.

IsaacLab 3.0 allows one simulation context per process, so the runner's evaluation env (built
while the training env is open) lives in a child process started with ``multiprocessing``'s
``spawn`` context (same interpreter, so the same IsaacLab venv). The child builds an
``IsaacLabVecEnv`` and serves ``reset`` / ``step`` / ``reseed`` / ``close``; tensors cross the pipe
on the CPU (an evaluation steps ``eval_episodes`` envs, a few hundred small messages per episode).
The child's env has its own physics and its own global random state, so evaluating never touches
the training env's. The child uses one torch thread.
"""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

import torch

from harness.env import EnvSpec

__all__ = ["RemoteVecEnv"]


def _serve(conn: Any, task: str, num_envs: int, seed: int, device: str, kwargs: dict[str, Any]) -> None:
    """Child process main loop: build the env, answer commands until ``close``."""
    torch.set_num_threads(1)
    try:
        from .adapter import IsaacLabVecEnv

        env = IsaacLabVecEnv(task, num_envs, seed, device, **kwargs)
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises it
        conn.send(("error", type(e).__name__, str(e)))
        return
    conn.send(("ok", env.spec))
    while True:
        cmd, arg = conn.recv()
        try:
            if cmd == "reset":
                conn.send(("ok", env.reset().cpu()))
            elif cmd == "step":
                obs, r, te, tr, info = env.step(arg.to(env.device))
                conn.send(("ok", (obs.cpu(), r.cpu(), te.cpu(), tr.cpu(), {k: v.cpu() for k, v in info.items()})))
            elif cmd == "reseed":
                env.reseed(arg)
                conn.send(("ok", None))
            elif cmd == "close":
                env.close()
                conn.send(("ok", None))
                return
            else:
                conn.send(("error", "ValueError", f"unknown command {cmd!r}"))
        except BaseException as e:  # noqa: BLE001
            conn.send(("error", type(e).__name__, str(e)))


class RemoteVecEnv:
    """``IsaacLabVecEnv(task, num_envs, seed, device, **kwargs)`` in a child process; same VecEnv API
    (``reset``, ``step``, ``reseed``, ``close``, ``spec``); tensors come back on ``device``."""

    def __init__(self, task: str, num_envs: int, seed: int, device: str = "cpu", **kwargs: Any) -> None:
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, task, num_envs, seed, device, kwargs), daemon=True)
        self._proc.start()
        child.close()
        self.task = task
        self.spec: EnvSpec = self._call(None)
        self.num_envs = self.spec.num_envs
        self.device = torch.device(self.spec.device)

    def _call(self, msg: tuple[str, Any] | None) -> Any:
        if msg is not None:
            self._conn.send(msg)
        try:
            reply = self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the IsaacLab child process of {self.task} died (exit code {self._proc.exitcode})") from None
        if reply[0] == "error":
            from .kitless import IsaacLabUnavailable

            kind = IsaacLabUnavailable if reply[1] == "IsaacLabUnavailable" else RuntimeError
            raise kind(f"{reply[1]} in the IsaacLab child process: {reply[2]}")
        return reply[1]

    def reset(self) -> torch.Tensor:
        return self._call(("reset", None)).to(self.device)

    def step(self, action: torch.Tensor):
        obs, r, te, tr, info = self._call(("step", action.detach().to("cpu", torch.float32)))
        d = self.device
        return obs.to(d), r.to(d), te.to(d), tr.to(d), {k: v.to(d) for k, v in info.items()}

    def reseed(self, seed: int) -> None:
        self._call(("reseed", int(seed)))

    def close(self) -> None:
        if self._proc.is_alive():
            try:
                self._call(("close", None))
            except (RuntimeError, OSError):
                pass
            self._proc.join(timeout=30)
            if self._proc.is_alive():
                self._proc.terminate()
        self._conn.close()

    def __repr__(self) -> str:
        return f"RemoteVecEnv({self.task!r}, num_envs={self.num_envs}, pid={self._proc.pid})"
