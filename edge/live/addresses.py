"""This machine's network addresses, for the live view's URLs when it listens on every interface (0.0.0.0 or
::), where a URL naming the wildcard address is no use to a phone on the same network.

Standard library only; nothing is sent on the network.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
from pathlib import Path

#: ioctl asking a network interface for its IPv4 address (Linux)
_SIOCGIFADDR = 0x8915
#: a documentation address (RFC 5737): "connecting" a UDP socket to it only asks the kernel for a route
_ROUTE_PROBE = ("192.0.2.1", 9)


def machine_addresses(ipv6: bool = False) -> list[str]:
    """The non-loopback addresses of this machine's interfaces that are up: IPv4 ones, then (with ``ipv6``)
    global IPv6 ones; at least the address of the default route when the interfaces cannot be listed."""
    found = _interface_ipv4() or _default_route_ipv4()
    if ipv6:
        found += _interface_ipv6()
    usable = []
    for text in found:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if not (address.is_loopback or address.is_unspecified or address.is_link_local) and text not in usable:
            usable.append(text)
    return usable


def _interface_ipv4() -> list[str]:
    found = []
    with contextlib.suppress(OSError, ImportError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        import fcntl  # Unix

        for _index, name in socket.if_nameindex():
            with contextlib.suppress(OSError):  # an interface without an IPv4 address
                packed = fcntl.ioctl(probe.fileno(), _SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
                found.append(socket.inet_ntoa(packed[20:24]))
    return found


def _default_route_ipv4() -> list[str]:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_ROUTE_PROBE)  # UDP: no packet leaves the machine
        return [probe.getsockname()[0]]
    return []


def _interface_ipv6() -> list[str]:
    """Global IPv6 addresses from /proc/net/if_inet6 (Linux: 32 hex digits, index, prefix, scope, flags, name)."""
    with contextlib.suppress(OSError):
        lines = Path("/proc/net/if_inet6").read_text().splitlines()
        return [str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))) for fields in map(str.split, lines)
                if len(fields) >= 4 and fields[3] == "00"]  # scope 00: global
    return []
