"""The Hugging Face hub, only where it can be reached: offline mode otherwise, never a wait on retries (design §2.3).

Asked for a file that is not cached, `huggingface_hub` retries a connection that cannot open
five times with back-off: about 50 s on a machine without the hub before the one-line error.
`hub_access()` opens one TCP connection to the hub's host with a short timeout first (the answer
is remembered for a minute) and, where it does not open, runs the block in Hugging Face's
offline mode, so a load answers from the local cache or fails at once. Local folders never need it.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 3.0
# A server that runs for days sees the network come and go; a probe costs one connection.
REMEMBER_S = 60.0
UNREACHABLE = "the Hugging Face hub cannot be reached from this machine"

_lock = threading.Lock()
_probed: dict[str, tuple[float, bool]] = {}
# How many blocks run offline now, and whether offline mode was on before the first of them.
_offline = {"holders": 0, "was_on": False}


def hub_reachable() -> bool:
    """Whether the hub may be used: offline mode (`HF_HUB_OFFLINE`) is off and a TCP connection
    to the hub's host opens within `PROBE_TIMEOUT_S`."""
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return False
    endpoint = urlparse(constants.ENDPOINT)
    host, port = endpoint.hostname or "huggingface.co", endpoint.port or (80 if endpoint.scheme == "http" else 443)
    known = _probed.get(host)
    if known is not None and time.monotonic() - known[0] < REMEMBER_S:
        return known[1]
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            reachable = True
    except OSError:
        reachable = False
    _probed[host] = (time.monotonic(), reachable)
    return reachable


@contextmanager
def hub_access() -> Iterator[bool]:
    """Run the block online where the hub answers, else in offline mode; yields which it is.

    Offline mode is Hugging Face's own switch (`huggingface_hub.constants.HF_HUB_OFFLINE`, read
    by transformers at each call); nested and concurrent blocks keep it on until the last ends.
    """
    from huggingface_hub import constants

    if hub_reachable():
        yield True
        return
    with _lock:
        if not _offline["holders"]:
            _offline["was_on"] = constants.HF_HUB_OFFLINE
        _offline["holders"] += 1
        constants.HF_HUB_OFFLINE = True
    try:
        yield False
    finally:
        with _lock:
            _offline["holders"] -= 1
            if not _offline["holders"]:
                constants.HF_HUB_OFFLINE = _offline["was_on"]
