"""How many concurrent recorded SIP calls the SIP switch carries here with clean audio, and
what a call costs.

    python bench/bench_sip.py [--levels 10,25,50,100,150] [--hold-s 10]

The network is the tests' (tests/helpers/sip.py): kamailio as the PBX, rtpengine recording
every call (pcap), one auto-answering baresip party playing a frequency clock. At each
level the SIP switch (services/telephony/sip: its baresip sidecar and this process) places
that many recorded calls, holds them `--hold-s` seconds, hangs them all up and waits for
every MP3. Clean audio: the worst gap between two RTP packets rtpengine captured of any
stream of any call (what the recordings are made of) is under 60 ms. CPU is per process
(/proc utime + stime over the hold window, % of one core): Callsuite (this process, the
driver), its baresip sidecar, rtpengine, kamailio, the answering party. "per call" is
Callsuite + sidecar, the part Callsuite runs; the MP3 encoding after hang-up is reported
apart (s of CPU per call-minute). All on the same 2 cores, so the parties and the relay
compete with the switch.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.sip import SipLab  # noqa: E402

from services.telephony.driver import SwitchEvent  # noqa: E402
from services.telephony.sip.driver import SipConfig, SipSwitch  # noqa: E402
from services.telephony.sip.media import read_pcap  # noqa: E402
from storage.recordings import RecordingStore  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


class Sink:
    def __init__(self) -> None:
        self.ready = 0
        self.lock = threading.Lock()

    def handle(self, event: SwitchEvent) -> None:
        if event.kind == "recording.ready":
            with self.lock:
                self.ready += 1


def cpu_s(pid: int, children: bool = False) -> float:
    """User + system CPU of a process (and of its children: kamailio forks its workers)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat.parent.name) == pid or (children and int(fields[1]) == pid):
            total += (int(fields[11]) + int(fields[12])) / TICK
    return total


def gaps_ms(captures: list[Path]) -> tuple[float, float]:
    """The worst and the 99th-percentile spacing of consecutive captured packets of a stream."""
    worst = 0.0
    spacings: list[float] = []
    for path in captures:
        last: dict = {}
        for packet in read_pcap(path):
            if packet.payload_type not in (0, 8):
                continue
            previous = last.get(packet.stream)
            if previous is not None:
                if os.environ.get("BENCH_SIP_DEBUG") and packet.at - previous > 0.06:
                    print("gap", path.name, packet.stream, round(packet.at - previous, 3), packet.at)
                worst = max(worst, packet.at - previous)
                spacings.append(packet.at - previous)
            last[packet.stream] = packet.at
    spacings.sort()
    p99 = spacings[int(0.99 * (len(spacings) - 1))] if spacings else 0.0
    return worst * 1000, p99 * 1000


def level(lab: SipLab, switch: SipSwitch, sink: Sink, calls: int, hold_s: float, pids: dict) -> dict:
    ready_before = sink.ready
    ids = []
    for _ in range(calls):
        ids.append(switch.place_call(extension=None, number="+19990000001", direction="outbound", ani=None,
                                     did=None, answer_after_s=None, duration_s=None, record=True))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(switch.call(i).state == "answered" for i in ids) < calls:
        time.sleep(0.1)
    answered = sum(switch.call(i).state == "answered" for i in ids)
    time.sleep(1.0)  # settle
    before = {name: cpu_s(pid, name == "kamailio") for name, pid in pids.items()}
    started = time.monotonic()
    time.sleep(hold_s)
    elapsed = time.monotonic() - started
    after = {name: cpu_s(pid, name == "kamailio") for name, pid in pids.items()}
    gap, p99 = gaps_ms(lab.captures())
    encode_before = cpu_s(os.getpid())
    hung = time.monotonic()
    for call_id in ids:
        if switch.call(call_id).state == "answered":
            switch.hangup(call_id)
    while time.monotonic() < hung + 120 and sink.ready - ready_before < answered:
        time.sleep(0.1)
    encode_s = cpu_s(os.getpid()) - encode_before
    talk_minutes = sum((switch.call(i).recording_duration_s or 0) for i in ids) / 60
    share = {name: 100 * (after[name] - before[name]) / elapsed for name in pids}
    return {"calls": calls, "answered": answered, "worst_gap_ms": gap, "p99_gap_ms": p99, "share": share,
            "per_call": (share["callsuite"] + share["sidecar"]) / max(1, answered),
            "encode_s_per_call_minute": encode_s / talk_minutes if talk_minutes else 0.0,
            "recordings": sink.ready - ready_before}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--levels", default="10,25,50,100,150")
    parser.add_argument("--hold-s", type=float, default=10.0)
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="bench-sip-"))
    lab = SipLab(folder / "lab", rtp_ports=4 * 2 * max(levels) + 200)
    lab.start({"19990000001": "bench-pw"})
    party = lab.party("19990000001", clock=(300.0, 30.0), keep_heard=False)
    sink = Sink()
    settings = lab.settings
    config = SipConfig(proxy=settings["sip_proxy"], domain=settings["sip_proxy"].removeprefix("sip:"),
                       account=settings["sip_account"], password=settings["sip_password"], codecs="PCMU,PCMA",
                       rtpengine_ng=settings["sip_rtpengine_ng"], recording_dir=Path(settings["sip_recording_dir"]),
                       media_dir=folder / "sip", max_calls=max(levels))
    switch = SipSwitch(config, RecordingStore(folder / "recordings"), sink)
    kamailio = int((lab.folder / "kamailio.pid").read_text())
    pids = {"callsuite": os.getpid(), "sidecar": switch._sidecar.process.pid,
            "rtpengine": int((lab.folder / "rtpengine.pid").read_text()), "kamailio": kamailio,
            "party": party.process.pid}
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'calls':>5} {'answered':>8} {'worst gap':>10} {'p99 gap':>8} {'clean':>5} {'callsuite':>9} {'sidecar':>7} "
          f"{'rtpengine':>9} {'kamailio':>8} {'party':>6} {'per call':>8} {'encode s/call-min':>17}")
    try:
        for calls in levels:
            result = level(lab, switch, sink, calls, args.hold_s, pids)
            s = result["share"]
            clean = result["answered"] == calls and result["worst_gap_ms"] < 60
            print(f"{calls:>5} {result['answered']:>8} {result['worst_gap_ms']:>8.1f}ms {result['p99_gap_ms']:>6.1f}ms "
                  f"{'yes' if clean else 'NO':>5} "
                  f"{s['callsuite']:>8.1f}% {s['sidecar']:>6.1f}% {s['rtpengine']:>8.1f}% {s['kamailio']:>7.1f}% {s['party']:>5.1f}% "
                  f"{result['per_call']:>7.2f}% {result['encode_s_per_call_minute']:>17.3f}", flush=True)
            if result["answered"] < calls:
                break  # the switch is past what it can place
            time.sleep(2)
    finally:
        switch.close()
        lab.stop()


if __name__ == "__main__":
    main()
