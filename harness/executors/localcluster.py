"""Throwaway single-node clusters on this machine, for the executor tests and ``bench/``:
a Ray head node (``ray start --head --block``) and a Slurm cluster (munged + slurmctld + slurmd
from a generated ``slurm.conf``, Debian's ``slurm-wlm`` 22.05 + ``munge``).

Both are context managers that start every daemon in its own session, wait until the cluster takes
work, and on exit stop exactly the processes they started (and, for Slurm, the job step daemons
of their own jobs), leaving none behind. ``ClusterUnavailable`` says why a cluster cannot start
here (binary missing, daemon refused to start): tests skip with that reason.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["ClusterUnavailable", "RayHead", "SlurmCluster", "free_port"]


class ClusterUnavailable(RuntimeError):
    """The cluster cannot start on this machine; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:  # noqa: BLE001 - psutil missing or the process is gone
        return []


def _kill_tree(proc: subprocess.Popen, grace: float = 15.0) -> None:
    """SIGTERM the session led by ``proc`` (and every descendant), then SIGKILL what is left."""
    pids = [proc.pid] + _descendants(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    for p in pids[1:]:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and (proc.poll() is None or any(_alive(p) for p in pids)):
        time.sleep(0.2)
    for p in pids:
        if _alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


class RayHead:
    """``ray start --head --block --num-cpus N`` on free ports with a private temp dir.

    ``address`` is the GCS address to pass as ``--address``. On exit the ``ray start`` process
    session and all its descendants (GCS, raylet, workers) are terminated.
    """

    def __init__(self, num_cpus: int = 2, num_gpus: int = 0, timeout: float = 120.0):
        self.num_cpus, self.num_gpus, self.timeout = num_cpus, num_gpus, timeout
        self.proc: subprocess.Popen | None = None
        self.address = ""

    def __enter__(self) -> "RayHead":
        ray_bin = shutil.which("ray", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
        if ray_bin is None:
            raise ClusterUnavailable("the `ray` command is not installed (pip install -e '.[cluster]')")
        self.tmp = tempfile.mkdtemp(prefix="dpray-", dir="/tmp")  # short: Ray's socket paths have a length limit
        port = free_port()
        self.address = f"127.0.0.1:{port}"
        cmd = [ray_bin, "start", "--head", "--block", f"--port={port}", f"--num-cpus={self.num_cpus}",
               f"--num-gpus={self.num_gpus}", "--node-ip-address=127.0.0.1", "--include-dashboard=false",
               "--disable-usage-stats", f"--temp-dir={self.tmp}", f"--ray-client-server-port={free_port()}"]
        self.log = open(Path(self.tmp) / "ray-start.log", "w")
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__()
                raise ClusterUnavailable(f"`ray start --head` exited with {self.proc.returncode}: {self._tail()}")
            if self._ready():
                return self
            time.sleep(1.0)
        self.__exit__()
        raise ClusterUnavailable(f"Ray head not ready within {self.timeout:.0f}s: {self._tail()}")

    def _tail(self) -> str:
        try:
            return (Path(self.tmp) / "ray-start.log").read_text()[-1500:]
        except OSError:
            return "(no log)"

    def _ready(self) -> bool:
        probe = ("import ray,sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(int(ray.cluster_resources().get('CPU', 0))); ray.shutdown()")
        r = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True, timeout=120)
        return r.returncode == 0 and r.stdout.strip().splitlines()[-1:] == [str(self.num_cpus)]

    def worker_pids(self) -> list[int]:
        """Ray worker processes of this cluster currently executing a dpbench run (``ray::dpbench_run``)."""
        import psutil

        out = []
        for pid in ([self.proc.pid] + _descendants(self.proc.pid)) if self.proc else []:
            try:
                cmd = " ".join(psutil.Process(pid).cmdline())
            except psutil.Error:
                continue
            if cmd.startswith("ray::dpbench_run"):
                out.append(pid)
        return out

    def all_pids(self) -> list[int]:
        return ([self.proc.pid] + _descendants(self.proc.pid)) if self.proc else []

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.pids_at_stop = self.all_pids()
            _kill_tree(self.proc)
            self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


_SLURM_CONF = """\
ClusterName=dpbench
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
MinJobAge=60
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
"""


class SlurmCluster:
    """A single-node Slurm cluster on localhost: its own munged socket/key, ports, spool and state
    directories under a temp dir, and ``SLURM_CONF`` pointing at the generated ``slurm.conf``.

    Inside the ``with`` block ``self.env`` is the environment for ``sbatch``/``squeue``/the dpbench
    driver (the context manager also sets ``SLURM_CONF`` in ``os.environ`` and restores it after).
    """

    def __init__(self, cpus: int = 2, mem_mb: int = 2000, timeout: float = 60.0):
        self.cpus, self.mem_mb, self.timeout = cpus, mem_mb, timeout
        self.procs: list[subprocess.Popen] = []
        self.names: list[str] = []
        self.root = Path()

    def __enter__(self) -> "SlurmCluster":
        missing = [b for b in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol") if not shutil.which(b)]
        if missing:
            raise ClusterUnavailable(f"Slurm/munge binaries missing: {', '.join(missing)} "
                                     "(apt-get install slurm-wlm munge)")
        if os.geteuid() != 0:
            raise ClusterUnavailable("starting slurmd needs root")
        self.root = Path(tempfile.mkdtemp(prefix="dpslurm-", dir="/tmp"))
        for d in ("state", "spool", "munge"):
            (self.root / d).mkdir()
        os.chmod(self.root, 0o755)
        key = self.root / "munge.key"
        key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o400)
        self.host = socket.gethostname().split(".")[0]
        conf = _SLURM_CONF.format(host=self.host, ctld_port=free_port(), slurmd_port=free_port(), root=self.root,
                                  cpus=self.cpus, mem_mb=self.mem_mb)
        (self.root / "slurm.conf").write_text(conf)
        self.env = dict(os.environ, SLURM_CONF=str(self.root / "slurm.conf"))
        self._old_conf = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(self.root / "slurm.conf")
        try:
            self._start("munged", ["munged", "--foreground", "--force", f"--socket={self.root}/munge.socket",
                                   f"--key-file={key}", f"--pid-file={self.root}/munged.pid",
                                   f"--log-file={self.root}/munged.log", f"--seed-file={self.root}/munge/seed"])
            self._wait(lambda: (self.root / "munge.socket").exists(), "munged socket")
            self._start("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.root / "slurm.conf")])
            self._wait(lambda: self._run(["scontrol", "ping"]).stdout.count("UP") >= 1, "slurmctld (scontrol ping)")
            self._start("slurmd", ["slurmd", "-D", "-N", self.host, "-f", str(self.root / "slurm.conf")])
            self._wait(lambda: self._run(["sinfo", "-h", "-o", "%T"]).stdout.strip() == "idle", "slurmd (node idle)")
        except BaseException:
            self.__exit__()
            raise
        return self

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=30)

    def _start(self, name: str, cmd: list[str]) -> None:
        log = open(self.root / f"{name}.stdout", "w")
        self.names.append(name)
        self.procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env,
                                           start_new_session=True))
        log.close()

    def _wait(self, ok, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            dead = [p for p in self.procs if p.poll() is not None]
            if dead:
                raise ClusterUnavailable(f"{self.names[self.procs.index(dead[0])]} exited with {dead[0].returncode} "
                                         f"while waiting for {what}: "
                                         f"{self.logs()}")
            try:
                if ok():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.5)
        raise ClusterUnavailable(f"timed out after {self.timeout:.0f}s waiting for {what}: {self.logs()}")

    def logs(self, chars: int = 1200) -> str:
        out = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log", "munged.stdout", "slurmctld.stdout", "slurmd.stdout"):
            p = self.root / name
            if p.exists() and p.stat().st_size:
                out.append(f"--- {name}:\n{p.read_text(errors='replace')[-chars:]}")
        return "\n".join(out) or "(no daemon logs)"

    def _stepd_pids(self) -> list[int]:
        """slurmstepd daemons (they detach from slurmd) of this cluster's jobs, found by their spool dir."""
        out = []
        for d in Path("/proc").iterdir():
            if not d.name.isdigit():
                continue
            try:
                if (d / "comm").read_text().strip() != "slurmstepd":
                    continue
                fds = os.listdir(d / "fd")
                paths = {os.readlink(d / "fd" / fd) for fd in fds}
            except OSError:
                continue
            if any(str(self.root) in p for p in paths):
                out.append(int(d.name))
        return out

    def __exit__(self, *exc: object) -> None:
        if self.procs and all(p.poll() is None for p in self.procs[1:2]):
            try:
                self._run(["scancel", "--user", "root", "--full"])
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and self._run(["squeue", "-h"]).stdout.strip():
                    time.sleep(0.5)
            except (OSError, subprocess.SubprocessError):
                pass
        stepds = self._stepd_pids()
        for p in reversed(self.procs):
            _kill_tree(p, grace=10.0)
        for pid in stepds + self._stepd_pids():
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.procs = []
        if self._old_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = self._old_conf
        shutil.rmtree(self.root, ignore_errors=True)
