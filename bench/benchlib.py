"""Small helpers shared by the bench scripts."""

import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_on_sigterm():
    """Turn SIGTERM (timeout, kill) into SystemExit so that the callers'
    `finally` blocks stop their stacks instead of leaving servers behind."""
    import signal
    import sys
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
