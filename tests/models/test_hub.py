"""The hub only where it answers: one short probe, then offline mode, never a wait on retries."""

from __future__ import annotations

import socket
import time

import huggingface_hub.constants
import pytest

from interp.models import hub


@pytest.fixture()
def no_network(monkeypatch):
    """A machine without the hub: every connection fails at once; offline mode is not set."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_probed", {})
    attempts = []

    def unreachable(address, *args, **kwargs):
        attempts.append(address)
        raise OSError("Name or service not known")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    return attempts


def test_without_a_network_the_block_runs_offline_and_the_probe_is_remembered(no_network):
    with hub.hub_access() as online:
        assert not online and huggingface_hub.constants.HF_HUB_OFFLINE
        with hub.hub_access() as inner:
            assert not inner
        assert huggingface_hub.constants.HF_HUB_OFFLINE, "the outer block is still offline"
    assert huggingface_hub.constants.HF_HUB_OFFLINE is False, "offline mode is given back"
    assert no_network == [("huggingface.co", 443)], "one probe for both blocks"


def test_offline_mode_set_by_the_user_is_kept_and_nothing_is_probed(monkeypatch, no_network):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with hub.hub_access() as online:
        assert not online
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True and no_network == []


def test_a_reachable_hub_is_used_online(monkeypatch, no_network):
    class Open:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(socket, "create_connection", lambda address, timeout: Open())
    with hub.hub_access() as online:
        assert online and huggingface_hub.constants.HF_HUB_OFFLINE is False


def test_a_hub_config_on_a_machine_without_the_hub_fails_at_once_and_says_why(no_network):
    from interp.core.errors import InterpError
    from interp.models.checkpoints import load_config
    from interp.models.lineage import Stage

    began = time.monotonic()
    with pytest.raises(InterpError) as caught:
        load_config(Stage("base", "someone-else/not-cached-model"))
    assert time.monotonic() - began < 10, "no retries on a network that is not there"
    message = str(caught.value)
    assert message.startswith("stage 'base' (someone-else/not-cached-model): config cannot be loaded (")
    assert message.endswith("it is not in the local Hugging Face cache and the Hugging Face hub cannot be reached "
                            "from this machine") and "\n" not in message
