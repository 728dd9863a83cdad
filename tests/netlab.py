"""A small internet on this machine, for tests of phones on other networks (root only).

Network namespaces joined by veth pairs; every address below belongs to a namespace the lab
creates, and nothing leaves the machine:

    far (198.51.100.2) ---- pbx (198.51.100.1 | 203.0.113.1) ---- router (203.0.113.2)
                           engine, rtpengine, voicemail agent     nftables masquerade
                                                                  (192.168.77.1)
                                                                       |
                                                                  phone (192.168.77.2)

The phone sits behind a home router that rewrites its private address and port exactly as a
real one does (masquerade, conntrack). The engine in `pbx` reaches PostgreSQL and the test's
Django through bridges (socat via a Unix socket: the services stay on the host's loopback), and
the host reaches the engine's JSON-RPC the same way.
"""

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pbx.engine.process import free_port

PBX_ADDRESS = "203.0.113.1"
ROUTER_WAN = "203.0.113.2"
FAR_ADDRESS = "198.51.100.2"
PBX_FAR_SIDE = "198.51.100.1"
ROUTER_LAN = "192.168.77.1"
PHONE_ADDRESS = "192.168.77.2"


def available() -> str:
    """Why the lab cannot be built here ('' when it can)."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "nft", "socat", "tcpdump"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (deploy/kamailio/install.sh)"
    return ""


def _run(*args: str) -> None:
    completed = subprocess.run(args, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {completed.stderr.strip()}")


@dataclass
class NatLab:
    workdir: Path
    udp_timeout: int = 30  # the router forgets an idle UDP mapping after this many seconds
    prefix: str = field(default_factory=lambda: f"l{os.getpid() % 100000}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def ns(self, role: str) -> str:
        return f"{self.prefix}{role}"

    def exec_args(self, role: str, args: Sequence[str]) -> list[str]:
        return ["ip", "netns", "exec", self.ns(role), *args]

    def sh(self, role: str, *args: str) -> None:
        _run(*self.exec_args(role, args))

    def start(self, role: str, args: Sequence[str], log: Path) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(  # noqa: S603 - the test's own commands
            self.exec_args(role, args), stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        self.processes.append(process)
        return process

    # --- building and tearing down ---------------------------------------------------------

    def build(self) -> "NatLab":
        for role in ("pbx", "router", "phone", "far"):
            _run("ip", "netns", "add", self.ns(role))
            self.sh(role, "ip", "link", "set", "lo", "up")
        self._wire("pbx", PBX_ADDRESS, "router", ROUTER_WAN, "w")
        self._wire("router", ROUTER_LAN, "phone", PHONE_ADDRESS, "l")
        self._wire("pbx", PBX_FAR_SIDE, "far", FAR_ADDRESS, "f")
        self.sh("phone", "ip", "route", "add", "default", "via", ROUTER_LAN)
        self.sh("far", "ip", "route", "add", "default", "via", PBX_FAR_SIDE)
        # the router: forwards, and masquerades what leaves by its WAN side
        self.sh("router", "sysctl", "-qw", "net.ipv4.ip_forward=1")
        rules = self.workdir / "router.nft"
        rules.write_text(
            "table ip nat {\n"
            "  chain postrouting {\n"
            "    type nat hook postrouting priority srcnat; policy accept;\n"
            f'    oifname "{self.prefix}w1" masquerade random\n'
            "  }\n"
            "}\n"
        )
        self.sh("router", "nft", "-f", str(rules))
        # (conntrack exists in the namespace once the NAT rule is loaded)
        for name in ("nf_conntrack_udp_timeout", "nf_conntrack_udp_timeout_stream"):
            self.sh("router", "sysctl", "-qw", f"net.netfilter.{name}={self.udp_timeout}")
        return self

    def _wire(self, left: str, left_address: str, right: str, right_address: str, tag: str) -> None:
        a, b = f"{self.prefix}{tag}0", f"{self.prefix}{tag}1"
        _run("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        # the left end is `<tag>0`, the right `<tag>1`; the router's WAN end is `w1`
        _run("ip", "link", "set", a, "netns", self.ns(left))
        _run("ip", "link", "set", b, "netns", self.ns(right))
        self.sh(left, "ip", "addr", "add", f"{left_address}/24", "dev", a)
        self.sh(right, "ip", "addr", "add", f"{right_address}/24", "dev", b)
        self.sh(left, "ip", "link", "set", a, "up")
        self.sh(right, "ip", "link", "set", b, "up")

    def teardown(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for role in ("pbx", "router", "phone", "far"):
            subprocess.run(  # noqa: S603
                ["ip", "netns", "delete", self.ns(role)],  # noqa: S607
                capture_output=True,
                check=False,
            )

    # --- services across namespaces ----------------------------------------------------------

    def bridge_in(self, role: str, host_port: int, *, port: int | None = None) -> int:
        """The host's 127.0.0.1:`host_port` (PostgreSQL, Django) reachable inside `role` at
        127.0.0.1:`port` (default the same port)."""
        port = port or host_port
        sock = self.workdir / f"in-{role}-{port}.sock"
        self._bridge(None, f"UNIX-LISTEN:{sock},fork,unlink-early", f"TCP:127.0.0.1:{host_port}")
        self._wait_for(sock)
        self._bridge(
            role,
            f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
            f"UNIX-CONNECT:{sock}",
        )
        return port

    def bridge_out(self, role: str, address: str, port: int) -> int:
        """`address`:`port` inside `role` (the engine's JSON-RPC) reachable from the host at
        127.0.0.1:<returned port>."""
        sock = self.workdir / f"out-{role}-{port}.sock"
        self._bridge(role, f"UNIX-LISTEN:{sock},fork,unlink-early", f"TCP:{address}:{port}")
        self._wait_for(sock)
        host_port = free_port()
        self._bridge(
            None, f"TCP-LISTEN:{host_port},bind=127.0.0.1,reuseaddr,fork", f"UNIX-CONNECT:{sock}"
        )
        return host_port

    def _bridge(self, role: str | None, listen: str, connect: str) -> None:
        args = ["socat", listen, connect]
        log = self.workdir / f"socat-{len(self.processes)}.log"
        if role is None:
            self.processes.append(
                subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # noqa: S603
            )
        else:
            self.start(role, args, log)
        time.sleep(0.1)

    @staticmethod
    def _wait_for(path: Path, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not appear")
            time.sleep(0.05)

    # --- observing ---------------------------------------------------------------------------

    def capture(self, role: str, interface_tag: str, name: str) -> "Capture":
        """tcpdump of UDP on one of the lab's interfaces (e.g. the phone's `l1`)."""
        path = self.workdir / f"{name}.pcap"
        process = self.start(
            role,
            [
                "tcpdump",
                "-i",
                f"{self.prefix}{interface_tag}",
                "-U",
                "-n",
                "-w",
                str(path),
                "udp",
            ],
            self.workdir / f"{name}-tcpdump.log",
        )
        time.sleep(0.5)
        return Capture(path, process)


@dataclass
class Capture:
    path: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> list["Datagram"]:
        time.sleep(0.3)
        self.process.terminate()
        self.process.wait(timeout=5)
        return read_pcap(self.path)


@dataclass(frozen=True)
class Datagram:
    source: str
    source_port: int
    destination: str
    destination_port: int
    payload: bytes


def read_pcap(path: Path) -> list[Datagram]:
    """UDP over IPv4 over Ethernet, from a classic pcap file (what tcpdump -w writes)."""
    data = path.read_bytes()
    if len(data) < 24:
        return []
    endian = "<" if data[:4] == b"\xd4\xc3\xb2\xa1" else ">"
    import struct

    found = []
    at = 24
    while at + 16 <= len(data):
        _, _, length, _ = struct.unpack(endian + "IIII", data[at : at + 16])
        frame = data[at + 16 : at + 16 + length]
        at += 16 + length
        if len(frame) < 14 + 20 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        header = (ip[0] & 0x0F) * 4
        if ip[9] != 17:
            continue
        source = ".".join(str(b) for b in ip[12:16])
        destination = ".".join(str(b) for b in ip[16:20])
        udp = ip[header:]
        source_port, destination_port, udp_length = struct.unpack("!HHH", udp[:6])
        found.append(
            Datagram(source, source_port, destination, destination_port, udp[8:udp_length])
        )
    return found
