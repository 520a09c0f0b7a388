"""Prints one ingest benchmark run side by side, with ward's ratios to the others.

Reads the run folder that ingest.sh fills: producer.json, results.jsonl (a line per
contender that ran) and NAME.time for each (GNU time -v output, the source of every peak
RSS, so all three are measured the same way).

The ceiling and python report their own seconds, from their start to their last event
done. ward is timed from outside: its wall time less the idle wait it needs to notice that
the topics are drained (idle_seconds in ward.json).
"""

import json
import sys
from pathlib import Path

def main():
    run = Path(sys.argv[1])
    producer = json.loads((run / "producer.json").read_text())
    print(f"producer: {producer['events']} events in {producer['seconds']:.2f} s, "
          f"{producer['events_per_s']} events/s, {producer['mb_per_s']} MB/s\n")

    rates = {}
    print(f"{'name':<8} {'events':>9} {'events/s':>9} {'seconds':>8} {'peak RSS MB':>12}")
    for result in map(json.loads, (run / "results.jsonl").read_text().splitlines()):
        name = result["name"]
        time_v = parse_time_v(run / f"{name}.time")
        seconds = result.get("seconds")
        if seconds is None:
            seconds = time_v["wall"] - result["idle_seconds"]
        rates[name] = result["events"] / seconds
        print(f"{name:<8} {result['events']:>9} {rates[name]:>9.0f} {seconds:>8.2f} "
              f"{time_v['rss_kib'] / 1024:>12.0f}")

    print()
    if "ward" not in rates:
        print("ward did not run: no ratios (b/a is ward/ceiling, b/c is ward/python)")
    for other, label in (("ceiling", "b/a"), ("python", "b/c")):
        if "ward" in rates and other in rates:
            print(f"{label} = ward/{other} = {rates['ward'] / rates[other]:.2f}")


def parse_time_v(path):
    """Wall seconds and peak RSS (KiB) from the report of GNU time -v."""
    fields = dict(line.strip().rsplit(": ", 1) for line in path.read_text().splitlines()
                  if ": " in line)
    # "h:mm:ss" or "m:ss.ss"
    parts = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
    wall = sum(float(part) * 60 ** power for power, part in enumerate(reversed(parts)))
    return {"wall": wall, "rss_kib": int(fields["Maximum resident set size (kbytes)"])}


if __name__ == "__main__":
    main()
