"""scripts/stack.sh from Python: the one way the integration tests and the
benchmarks start, stop, query and reload a private stack, and the few
process and port helpers both need. Only
the standard library, so bench/ imports it without the tests' harness:

    sys.path.insert(0, os.path.join(TOP, "scripts"))
    import stackctl
    stackctl.start(folder, env)
    ...
    stackctl.stop(folder, env)

Each call runs `scripts/stack.sh COMMAND FOLDER` from the checkout with the
given environment (the stack's settings: HTTP_PORT, WORKERS, ...; None =
this process's) and returns the finished process, output captured as text.
"""

import os
import socket
import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(TOP, "scripts", "stack.sh")


def run(command, folder, env=None, timeout=180):
    """scripts/stack.sh COMMAND FOLDER; the CompletedProcess, whatever its
    exit code (status exits 3 when a piece is down)."""
    return subprocess.run([SCRIPT, command, folder], env=env, cwd=TOP, capture_output=True,
                          text=True, timeout=timeout)


def start(folder, env=None, timeout=180):
    """Starts what is not running yet. RuntimeError with the script's output
    when it fails (the caller stops what did start)."""
    r = run("start", folder, env, timeout)
    if r.returncode != 0:
        raise RuntimeError("stack start failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
    return r


def stop(folder, env=None, timeout=120):
    """Stops every process of the stack; never raises for a stack that is
    partly or not running."""
    return run("stop", folder, env, timeout)


def status(folder, env=None, timeout=60):
    """Which pieces run; returncode 0 when all do and the pool answers."""
    return run("status", folder, env, timeout)


def reload(folder, env=None, timeout=180):
    """After an edit of FOLDER/popup.conf: reloads the pool and nginx."""
    return run("reload", folder, env, timeout)


def parse_metrics(text):
    """/api/metrics' text (Prometheus exposition) as {'name{labels}': value};
    comment lines skipped."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            out[k] = float(v)
    return out


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cmdline(pid):
    """The argv of a process from /proc ([] once it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def children_of(parents):
    """Processes whose parent pid is in `parents` (a set of pids), from /proc;
    zombies included (callers that care check liveness)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid in parents:
            out.append(int(name))
    return out
