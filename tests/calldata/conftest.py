"""Fixtures of the Callbutton tests: the authored schema, and a guard for the pure unit tests."""
from __future__ import annotations

import socket

import pytest
import xmlschema
from helpers.server import REPO


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema10:
    return xmlschema.XMLSchema10(str(REPO / "xsd" / "callbutton.xsd"))


@pytest.fixture
def no_network(monkeypatch):
    """Nothing may open a socket (XXE/DTD fetching would)."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
