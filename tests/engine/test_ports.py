"""Media port ranges the tests and the bench give rtpengine never overlap the ports the kernel
hands out to sipp and free_port (the ephemeral range)."""

from pbx.engine.process import ephemeral_ports, free_port, free_udp_range


def test_a_media_range_lies_outside_the_ephemeral_ports() -> None:
    low, high = ephemeral_ports()
    for size in (200, 20000):
        first = free_udp_range(size)
        last = first + size - 1
        assert last < low or first > high, (first, last, low, high)
    ports = {free_port() for _ in range(200)}
    assert all(low <= port <= high for port in ports)
