"""Where the server may listen: loopback unless the user explicitly allows remote clients."""

from __future__ import annotations

import errno
import ipaddress
import socket

from nep_core.errors import NepError


def is_loopback(host: str) -> bool:
    """True when every address ``host`` names is a loopback address (127.0.0.0/8, ::1, localhost)."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%", 1)[0]).is_loopback for info in infos)


def check_bind_host(host: str, allow_remote: bool) -> str | None:
    """Refuse a ``host`` that names no address, and a non-loopback one unless ``allow_remote``; then
    return the warning to print."""
    if is_loopback(host):
        return None
    try:
        socket.getaddrinfo(host.strip().strip("[]"), None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise NepError(f"cannot resolve --host {host or repr(host)}: {getattr(error, 'strerror', None) or error}") from None
    if not allow_remote:
        raise NepError(
            f"refusing to listen on {host}: it is not a loopback address, so other machines could reach the "
            f"server; use --host 127.0.0.1, or pass --allow-remote (with --token) if you really mean it"
        )
    return (
        f"listening on {host}, which other machines can reach: anyone who can connect can read suggestions "
        f"and write feedback logs; use --token and a firewall"
    )


def bind_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound (not yet listening) to ``host:port``; a one-line error when that fails."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise NepError(f"cannot resolve --host {host}: {error.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        elsewhere = error.errno == errno.EADDRNOTAVAIL
        hint = f"--host {host} must be an address of this machine" if elsewhere else "pick another --port"
        raise NepError(f"cannot listen on {host}:{port}: {error.strerror}; {hint}") from None
    return sock


def socket_url(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of a bound socket (IPv6 hosts in brackets)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
