"""What hotline's Twisted protocols and listeners share: they run over TCP.

Twisted types `Protocol.transport` as optional (None before the connection is made) and a
listening port's address as any `IAddress`; these narrow them once, with a check, for code that
runs only while connected or only on TCP ports, and print an address either way.
"""

from __future__ import annotations

from typing import cast

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IListeningPort, ITCPTransport
from twisted.internet.protocol import Protocol


def connected(protocol: Protocol) -> ITCPTransport:
    """The protocol's connection. Twisted sets it before `connectionMade` and keeps it after
    `connectionLost`, so None here is a bug: a call on a protocol never connected."""
    transport = protocol.transport
    if transport is None:
        raise RuntimeError(f"{type(protocol).__name__} used before its connection was made")
    # Every protocol of hotline is served or dialled over TCP (the tests' StringTransport has
    # the TCP methods they use): Twisted hands it over as a plain ITransport.
    return cast(ITCPTransport, transport)


def bound_port(port: IListeningPort) -> int:
    """The port number a TCP listener is bound to (the one the system chose for port 0)."""
    address = port.getHost()
    if not isinstance(address, IPv4Address | IPv6Address):
        raise TypeError(f"{address} is not a TCP address")
    return address.port


def stop_listening(port: IListeningPort) -> Deferred[None]:
    """`port.stopListening()` as a Deferred, whatever it returns (None: stopped at once)."""
    stopped = port.stopListening()
    return succeed(None) if stopped is None else stopped


def address_text(address: IAddress | None) -> str:
    """`host:port` for a TCP address; any other (a UNIX socket, none) as Twisted prints it."""
    if isinstance(address, IPv4Address | IPv6Address):
        return f"{address.host}:{address.port}"
    return str(address)
