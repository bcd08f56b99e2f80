"""Network guard for tests: loaded by every Python process that has this folder on PYTHONPATH.

Any attempt to resolve a host name or connect an INET socket is refused and recorded (one line per attempt)
in the file named by OVYOLO_NETGUARD_LOG. Unix sockets (used between local processes) stay allowed.
"""
import os
import socket
import traceback

_LOG = os.environ.get("OVYOLO_NETGUARD_LOG")


def _record(what, target):
    if _LOG:
        stack = "".join(traceback.format_stack(limit=8)).replace("\n", " | ")
        with open(_LOG, "a") as f:
            f.write(f"{os.getpid()} {what} {target!r} :: {stack}\n")
    raise OSError(f"network blocked by test guard: {what} {target!r}")


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record("connect", address)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _record("connect_ex", address)
    return _connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    _record("getaddrinfo", host)


def _guarded_create_connection(address, *args, **kwargs):
    _record("create_connection", address)


if _LOG:  # leave a trace that this process ran guarded
    import sys

    with open(_LOG + ".loaded", "a") as _f:
        _f.write(f"{os.getpid()} {' '.join(sys.argv)[:200]}\n")

socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.getaddrinfo = _guarded_getaddrinfo
socket.create_connection = _guarded_create_connection
