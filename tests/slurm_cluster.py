"""A real single-node SLURM cluster (munge, slurmctld, slurmd) for tests, all state in one folder.

The node is this machine under the name `localhost`. Clients (sbatch, squeue,
sinfo) find the cluster through SLURM_CONF in `cluster.env()`; nothing is
written outside the folder and nothing system-wide is started.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "mungekey", "slurmctld", "slurmd", "slurmstepd")
CLIENTS = ("sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")


def _search_path():
    # Debian puts the daemons in /usr/sbin, which a non-root PATH may lack.
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def missing_binaries():
    """Names of the SLURM and munge programs that cannot be found."""
    return [name for name in DAEMONS + CLIENTS if shutil.which(name, path=_search_path()) is None]


def _which(name):
    found = shutil.which(name, path=_search_path())
    if found is None:
        raise FileNotFoundError(f"{name} not found (install slurm-wlm and munge, see .ci/setup_slurm.sh)")
    return found


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlurmError(RuntimeError):
    pass


class LocalSlurm:
    """munged + slurmctld + slurmd for `localhost`, configured and run inside `root`.

    The node advertises `cpus` and `real_memory_mb` whatever the hardware has
    (SlurmdParameters=config_overrides): nothing enforces memory here (no
    cgroups), so jobs may ask for what a real cluster would give them.
    `gpus` > 0 declares that many GPUs as a counted GRES with no device behind
    it, enough for SLURM to accept and account a GPU request, not to run on one.
    """

    def __init__(self, root, cpus=2, real_memory_mb=16000, gpus=0, partition="test"):
        self.root = Path(root)
        self.cpus = cpus
        self.real_memory_mb = real_memory_mb
        self.gpus = gpus
        self.partition = partition
        self.conf = self.root / "etc" / "slurm.conf"
        self.logdir = self.root / "log"
        self.bindir = self.root / "bin"
        self.munge_socket = self.root / "munge" / "munge.socket.2"
        self._procs = {}

    # configuration ---------------------------------------------------------
    def write_config(self):
        for sub in ("etc", "log", "state", "spool", "munge", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        # munged refuses a socket in a folder others cannot traverse
        os.chmod(self.root / "munge", 0o755)
        if len(str(self.munge_socket)) > 100:
            raise SlurmError(f"munge socket path too long for a unix socket: {self.munge_socket}")
        key = self.root / "munge" / "munge.key"
        if not key.exists():
            subprocess.run([_which("mungekey"), "--create", f"--keyfile={key}"], check=True,
                           capture_output=True, text=True)
        os.chmod(key, 0o600)

        r = self.root
        lines = [
            "ClusterName=skttest",
            "SlurmctldHost=localhost(127.0.0.1)",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.logdir / 'slurmctld.log'}",
            f"SlurmdLogFile={self.logdir / 'slurmd.log'}",
            # No cgroups: containers and CI runners rarely let a job own a cgroup.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            # No slurmdbd, so sacct has nothing to read: finished jobs stay
            # visible to squeue for MinJobAge seconds, and every finished job
            # is appended to the jobcomp file.
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/filetxt",
            f"JobCompLoc={r / 'jobcomp.txt'}",
            "MinJobAge=600",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "SchedulerType=sched/backfill",
            "MpiDefault=none",
            "ReturnToService=2",
            "SlurmdParameters=config_overrides",
            "SlurmdTimeout=60",
            "InactiveLimit=0",
            "MailProg=/bin/true",
            "KillWait=5",
        ]
        node = f"NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.real_memory_mb}"
        if self.gpus:
            lines.append("GresTypes=gpu")
            node += f" Gres=gpu:{self.gpus}"
            (self.root / "etc" / "gres.conf").write_text(
                f"NodeName=localhost Name=gpu File=/dev/null Count={self.gpus}\n")
        lines += [node + " State=UNKNOWN",
                  f"PartitionName={self.partition} Nodes=localhost Default=YES MaxTime=INFINITE State=UP"]
        self.conf.write_text("\n".join(lines) + "\n")

        # The jobstep plugin (0.6.1) removes every SLURM_* variable, SLURM_CONF
        # included, before it calls srun inside a job. A real cluster keeps its
        # slurm.conf where srun looks by default; this one lives in a temp
        # folder, so the srun that jobs see puts SLURM_CONF back.
        shim = self.bindir / "srun"
        shim.write_text(f"#!/bin/sh\nSLURM_CONF='{self.conf}' exec '{_which('srun')}' \"$@\"\n")
        shim.chmod(0o755)
        return self.conf

    def env(self, base=None):
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.bindir), env.get("PATH", ""), "/usr/sbin"])
        return env

    def run(self, *args, check=True, timeout=30):
        """Run a SLURM client command against this cluster."""
        result = subprocess.run([_which(args[0]), *args[1:]], capture_output=True, text=True,
                                env=self.env(), timeout=timeout)
        if check and result.returncode != 0:
            raise SlurmError(f"{' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
        return result

    # daemons ---------------------------------------------------------------
    def _spawn(self, name, cmd):
        out = open(self.logdir / f"{name}.stdout", "w")
        # Foreground mode keeps each daemon a child of ours, so stop() can end
        # exactly the processes it started.
        self._procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env(),
                                             start_new_session=True)
        out.close()

    def start(self, timeout=60):
        """Start munged, slurmctld and slurmd; return once `sinfo` shows the node idle."""
        if os.geteuid() != 0:
            raise SlurmError("a local SLURM needs root: slurmd starts every job as its submitting user")
        self.write_config()
        try:
            m = self.root / "munge"
            self._spawn("munged", [_which("munged"), "--foreground", "--force",
                                   f"--key-file={m / 'munge.key'}", f"--socket={self.munge_socket}",
                                   f"--pid-file={m / 'munged.pid'}", f"--seed-file={m / 'munged.seed'}",
                                   f"--log-file={self.logdir / 'munged.log'}"])
            self._wait(lambda: self.munge_socket.exists(), timeout, "munged socket")
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-f", str(self.conf)])
            self._wait(lambda: self.run("scontrol", "ping", check=False).returncode == 0, timeout,
                       "slurmctld to answer scontrol ping")
            self._spawn("slurmd", [_which("slurmd"), "-D", "-N", "localhost", "-f", str(self.conf)])
            self._wait(lambda: self.node_state() == "idle", timeout, "node localhost idle in sinfo")
        except BaseException:
            self.stop()
            raise
        return self

    def node_state(self):
        result = self.run("sinfo", "--noheader", "--Node", "--format=%N %t", check=False)
        for line in result.stdout.splitlines():
            name, _, state = line.partition(" ")
            if name == "localhost":
                return state.strip()
        return None

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise SlurmError(f"{name} exited with {proc.returncode} while waiting for {what}\n"
                                     + self.log_tail())
            if ready():
                return
            time.sleep(0.3)
        raise SlurmError(f"timed out after {timeout} s waiting for {what}\n" + self.log_tail())

    def stop(self):
        """Cancel every job, then end the daemons this object started (TERM, then KILL)."""
        if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
            self.run("scancel", f"--partition={self.partition}", check=False, timeout=10)
            deadline = time.monotonic() + 20
            while self.active_jobs() and time.monotonic() < deadline:
                time.sleep(0.5)
        # slurmd first: it ends the job steps it spawned; munged last, the others need it to say goodbye.
        for name in ("slurmd", "slurmctld", "munged"):
            proc = self._procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def active_jobs(self):
        """Ids of jobs pending, running or completing."""
        result = self.run("squeue", "--noheader", "--format=%i", "--states=PD,R,CG,CF,S", check=False)
        return result.stdout.split()

    def running(self):
        """Names of the daemons still running."""
        return [name for name, proc in self._procs.items() if proc.poll() is None]

    def pids(self):
        return {name: proc.pid for name, proc in self._procs.items()}

    def log_tail(self, lines=30):
        parts = []
        for path in sorted(self.logdir.glob("*")):
            if path.suffix == ".stdout" and path.with_suffix(".log").exists():
                continue  # the daemon's own log holds the same lines
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
