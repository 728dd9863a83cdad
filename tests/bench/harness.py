"""The SIP load harness: sipp driven from injection files (many accounts), large socket
buffers, a rate ramp that doubles then bisects, a confirmation run at the best rate, and one
pass rule for every row:

    < 1 % of the calls failed, >= 95 % of the offered rate achieved (calls started over the
    sending period, from sipp's statistics file), p99 response time < 200 ms (sipp's own
    response-time measure, `-trace_rtt`: REGISTER sent -> 200; authenticated INVITE -> 180).

CPU per process (user + system time from /proc, as cores in use) is sampled around the
confirmation run, so a row says who spent the machine."""

import csv
import os
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pbx.engine.process import free_port
from tests import sip

FAILED_MAX = 0.01
ACHIEVED_MIN = 0.95
P99_MAX_MS = 200.0
# the kernel's net.core.rmem_max/wmem_max here: a larger value would be capped. At thousands
# of requests per second the default drops datagrams in sipp's own socket, and the harness
# would measure itself.
BUFFER_BYTES = 4 * 1024 * 1024

# field0 username, field1 domain, field2 its credentials (`credentials()`), field3 the contact's
# host:port
REGISTER_LOAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register load">
  <send start_rtd="rtt"><![CDATA[

      REGISTER sip:[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[call_number]
      To: <sip:[field0]@[field1]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[field3]>
      Expires: 3600
      User-Agent: bench-phone
      Content-Length: 0

  ]]></send>
  <recv response="401" auth="true"/>
  <send><![CDATA[

      REGISTER sip:[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[call_number]
      To: <sip:[field0]@[field1]>
      Call-ID: [call_id]
      CSeq: 2 REGISTER
      Contact: <sip:[field0]@[field3]>
      [field2]
      Expires: 3600
      User-Agent: bench-phone
      Content-Length: 0

  ]]></send>
  <recv response="200" rtd="rtt"/>
</scenario>
"""

# field0 caller's username, field1 domain, field2 its credentials (`credentials()`), field3
# the extension called
CALL_LOAD = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="call load">
  <send retrans="500"><![CDATA[

      INVITE sip:[field3]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field3]@[field1]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="407" auth="true"/>
  <send><![CDATA[

      ACK sip:[field3]@[field1] SIP/2.0
      [last_Via:]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <send retrans="500" start_rtd="rtt"><![CDATA[

      INVITE sip:[field3]@[field1] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[field3]@[field1]>
      Call-ID: [call_id]
      CSeq: 2 INVITE
      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>
      [field2]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

  ]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true" rtd="rtt"/>
  <recv response="180" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[

      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 2 ACK
      [routes]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500"><![CDATA[

      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 3 BYE
      [routes]
      Max-Forwards: 70
      Content-Length: 0

  ]]></send>
  <recv response="200"/>
</scenario>
"""


def credentials(username: str, secret: str) -> str:
    """An injection field sipp reads as its authentication keyword (a keyword cannot take
    another field as its value)."""
    return f"[authentication username={username} password={secret}]"


def call_load(hold_ms: int = 500) -> str:
    return CALL_LOAD.replace("{hold_ms}", str(hold_ms))


@dataclass(frozen=True)
class Step:
    """One sipp run at an offered rate, judged by the same rule for every row."""

    rate: int
    calls: int
    successful: int
    failed: int
    achieved: float  # calls started per second over the sending period
    rtt_p50_ms: float
    rtt_p99_ms: float
    cpu: dict[str, float] = field(default_factory=dict)  # cores in use, per process group

    @property
    def success(self) -> float:
        return self.successful / self.calls if self.calls else 0.0

    @property
    def passed(self) -> bool:
        return (
            self.calls > 0
            and self.failed < FAILED_MAX * self.calls
            and self.successful >= (1 - FAILED_MAX) * self.calls
            and self.achieved >= ACHIEVED_MIN * self.rate
            and self.rtt_p99_ms < P99_MAX_MS
        )

    def why(self) -> str:
        """What failed the step (empty when it passed)."""
        reasons = []
        if (
            self.failed >= FAILED_MAX * self.calls
            or self.successful < (1 - FAILED_MAX) * self.calls
        ):
            reasons.append(f"{self.successful}/{self.calls} successful")
        if self.achieved < ACHIEVED_MIN * self.rate:
            reasons.append(f"achieved {self.achieved:.0f}/s")
        if self.rtt_p99_ms >= P99_MAX_MS:
            reasons.append(f"p99 {self.rtt_p99_ms:.0f} ms")
        return ", ".join(reasons)


@dataclass(frozen=True)
class Sustained:
    """A row's answer: the confirmed rate (0: none passed) and the steps that led to it."""

    rate: int
    confirmation: Step | None
    steps: list[Step]


@dataclass
class Processes:
    """The processes a row started, by label; each label counts the process and everything
    it forked (Kamailio's workers)."""

    roots: dict[str, list[int]] = field(default_factory=dict)

    def add(self, label: str, pid: int) -> None:
        self.roots.setdefault(label, []).append(pid)

    def cpu_seconds(self) -> dict[str, float]:
        parents: dict[int, int] = {}
        times: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            fields = raw[raw.rindex(")") + 2 :].split()
            parents[int(entry.name)] = int(fields[1])
            times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        totals = {}
        for label, roots in self.roots.items():
            tree = set(roots)
            grew = True
            while grew:
                grown = tree | {pid for pid, parent in parents.items() if parent in tree}
                grew = len(grown) > len(tree)
                tree = grown
            totals[label] = sum(times.get(pid, 0.0) for pid in tree)
        return totals


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _epoch(value: str) -> float:
    """A time column of sipp's statistics: "date<TAB>time<TAB>epoch seconds"."""
    return float(value.split("\t")[-1])


def achieved_rate(stat_file: Path, calls: int) -> float:
    """Calls started per second until the last one started: the time is interpolated between
    sipp's one-second statistics rows."""
    rows = list(csv.DictReader(stat_file.read_text().splitlines(), delimiter=";"))
    before = (0.0, 0)
    for row in rows:
        at = _epoch(row["CurrentTime"]) - _epoch(row["StartTime"])
        created = int(row["OutgoingCall(C)"])
        if created >= calls:
            span = max(created - before[1], 1)
            reached = before[0] + (at - before[0]) * (calls - before[1]) / span
            return calls / reached if reached > 0 else 0.0
        before = (at, created)
    last = before
    return last[1] / last[0] if last[0] else 0.0


def percentiles(samples: Iterable[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    if not ordered:
        return 0.0, 0.0
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run_step(
    target: tuple[str, int],
    scenario: str,
    injection: Path,
    workdir: Path,
    *,
    rate: int,
    seconds: float,
    concurrency: float,
    processes: Processes | None = None,
    local_port: int | None = None,
) -> Step:
    """One sipp run: `rate` x `seconds` calls offered at `rate`, at most rate x concurrency
    at once (and never fewer than 50), from `local_port` (default: any free one)."""
    calls = max(int(rate * seconds), 1)
    name = f"load-{free_port()}"
    path = workdir / f"{name}.xml"
    path.write_text(scenario)
    stat_file = workdir / f"{name}-stat.csv"
    args = [
        sip.SIPP,
        f"{target[0]}:{target[1]}",
        "-sf",
        str(path),
        "-inf",
        str(injection),
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port or free_port()),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(max(int(rate * concurrency), 50)),
        "-buff_size",
        str(BUFFER_BYTES),
        "-trace_stat",
        "-stf",
        str(stat_file),
        "-fd",
        "1",
        "-trace_err",
        "-trace_rtt",
        "-rtt_freq",
        "1",
        "-timeout",
        f"{int(seconds) + 60}s",
        "-nostdin",
        "-recv_timeout",
        "2000",
    ]
    cpu_before = processes.cpu_seconds() if processes else {}
    sipp_before = _children_cpu()
    started = time.monotonic()
    completed = subprocess.run(  # noqa: S603
        args, capture_output=True, text=True, timeout=seconds + 180, check=False, cwd=workdir
    )
    wall = time.monotonic() - started
    cpu = {}
    if processes:
        after = processes.cpu_seconds()
        cpu = {label: (after[label] - cpu_before.get(label, 0.0)) / wall for label in after}
        cpu["sipp caller"] = (_children_cpu() - sipp_before) / wall
    rtts = [
        float(line.split(";")[1])
        for rtt_file in workdir.glob(f"{name}_*_rtt.csv")
        for line in rtt_file.read_text().splitlines()[1:]
        if line.count(";") >= 2
    ]
    p50, p99 = percentiles(rtts)
    successful = failed = 0
    for row in csv.DictReader(stat_file.read_text().splitlines(), delimiter=";"):
        successful, failed = int(row["SuccessfulCall(C)"]), int(row["FailedCall(C)"])
    del completed
    return Step(
        rate=rate,
        calls=calls,
        successful=successful,
        failed=failed,
        achieved=achieved_rate(stat_file, calls),
        rtt_p50_ms=p50,
        rtt_p99_ms=p99 if rtts else float("inf"),
        cpu=cpu,
    )


CONFIRMATIONS = 4
CONFIRMATION_BACKOFF = 0.85


def sustained(
    run: Callable[[int, float], Step],
    *,
    start: int,
    ceiling: int = 64000,
    seconds: float = 3,
    bisections: int = 3,
    log: Callable[[str], None] = print,
) -> Sustained:
    """The highest offered rate that passes: a ramp that doubles from `start` until a step
    fails, then `bisections` halvings of the interval between the last pass and the first
    failure, then a confirmation run of twice the length at the best rate (one that fails
    moves down 15 %, never under the next lower rate that passed). `run(rate, seconds)` runs
    one step on a settled system."""

    def step(rate: int, length: float = seconds) -> Step:
        result = run(rate, length)
        verdict = "pass" if result.passed else f"FAIL ({result.why()})"
        log(
            f"    {rate:>6}/s x {length:g} s: {result.successful}/{result.calls} ok, "
            f"{result.achieved:.0f}/s achieved, p99 {result.rtt_p99_ms:.1f} ms: {verdict}"
        )
        return result

    steps: list[Step] = []
    passed: list[int] = []
    low, high = 0, 0
    rate = start
    while rate <= ceiling:
        result = step(rate)
        steps.append(result)
        if not result.passed:
            high = rate
            break
        passed.append(rate)
        low = rate
        rate *= 2
    if high:
        for _ in range(bisections):
            middle = (low + high) // 2
            if middle in (low, high):
                break
            result = step(middle)
            steps.append(result)
            if result.passed:
                passed.append(middle)
                low = middle
            else:
                high = middle
    # A short step can pass at a rate the system does not sustain twice as long (queues still
    # growing when it ends): a confirmation that fails moves down CONFIRMATION_BACKOFF, never
    # under the next lower rate that passed, at most CONFIRMATIONS times.
    candidate = max(passed, default=0)
    for _ in range(CONFIRMATIONS):
        if candidate <= 0:
            break
        confirmation = step(candidate, seconds * 2)
        steps.append(confirmation)
        if confirmation.passed:
            return Sustained(candidate, confirmation, steps)
        floor = max((r for r in passed if r < candidate), default=0)
        candidate = max(int(candidate * CONFIRMATION_BACKOFF), floor)
    return Sustained(0, None, steps)
