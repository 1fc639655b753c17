// tcpdump's packet statistics, read from its standard error. It prints them when it exits (one
// tally per line) and, on Linux, when sent SIGUSR1 (all on one line, after "tcpdump: "):
//   tcpdump: 12 packets captured, 14 packets received by filter, 0 packets dropped by kernel
//   12 packets captured
//   14 packets received by filter
//   0 packets dropped by kernel
//   3 packets dropped by interface        (only when not zero)
// The counts are libpcap's pcap_stats(), cumulative since the capture opened, in 32-bit
// unsigned fields: on a busy node over days they wrap, which is undone here.

const WRAP = 2 ** 32;

const COUNTERS = [
  ['captured', /(\d+) packets? captured/],
  ['received', /(\d+) packets? received by filter/],
  ['kernel', /(\d+) packets? dropped by kernel/],
  ['interface', /(\d+) packets? dropped by interface/],
] as const;

type Counter = (typeof COUNTERS)[number][0];

export class TcpdumpStats {
  private readonly last: Record<Counter, number> = { captured: 0, received: 0, kernel: 0, interface: 0 };
  private readonly wraps: Record<Counter, number> = { captured: 0, received: 0, kernel: 0, interface: 0 };
  private isKnown = false;

  /** Reads one line of tcpdump's standard error; returns true when it carried statistics. */
  line(text: string): boolean {
    let found = false;
    for (const [name, re] of COUNTERS) {
      const m = re.exec(text);
      if (m === null) continue;
      found = true;
      const v = Number(m[1]);
      if (v < this.last[name]) this.wraps[name]++;
      this.last[name] = v;
    }
    if (found) this.isKnown = true;
    return found;
  }

  private value(name: Counter): number {
    return this.wraps[name] * WRAP + this.last[name];
  }

  /** Packets the kernel (buffer full) or the interface dropped, cumulative; null before any report. */
  dropped(): number | null {
    return this.isKnown ? this.value('kernel') + this.value('interface') : null;
  }

  received(): number | null {
    return this.isKnown ? this.value('received') : null;
  }
}
