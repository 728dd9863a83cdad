"""The bench's search for the highest sustained rate (no sipp: a system whose limits are known)."""

from tests.bench.harness import Step, sustained


def system(short_limit: int, long_limit: int):
    """Passes a 3 s step up to `short_limit`, a longer one up to `long_limit` (queues that are
    still growing when a short step ends)."""
    tried: list[tuple[int, float]] = []

    def run(rate: int, seconds: float) -> Step:
        tried.append((rate, seconds))
        limit = short_limit if seconds <= 3 else long_limit
        p99 = 20.0 if rate <= limit else 900.0
        calls = int(rate * seconds)
        return Step(rate, calls, calls, 0, float(rate), 5.0, p99)

    return run, tried


def test_ramp_bisect_then_confirm() -> None:
    run, tried = system(5000, 5000)

    found = sustained(run, start=500, log=lambda _: None)

    # 500..4000 pass, 8000 fails; bisections 6000 F, 5000 P, 5500 F; 5000 confirmed for 6 s
    assert [rate for rate, _ in tried] == [500, 1000, 2000, 4000, 8000, 6000, 5000, 5500, 5000]
    assert found.rate == 5000
    assert found.confirmation is not None
    assert found.confirmation.calls == 30000


def test_a_failed_confirmation_moves_down_15_percent_not_to_the_previous_step() -> None:
    run, tried = system(8000, 7000)

    found = sustained(run, start=500, log=lambda _: None)

    confirmations = [rate for rate, seconds in tried if seconds > 3]
    assert confirmations == [8000, 6800]  # not 4000, the ramp's rate below
    assert found.rate == 6800


def test_under_the_start_rate_it_bisects_down_and_nothing_sustained_is_zero() -> None:
    slow, _ = system(100, 100)
    dead, _ = system(0, 0)

    assert sustained(slow, start=500, log=lambda _: None).rate == 62  # 250 F, 125 F, 62 P
    found = sustained(dead, start=500, log=lambda _: None)
    assert (found.rate, found.confirmation) == (0, None)
