"""The benchmark's chart: `python plot.py results.json chart.png`.

Four panels from one run's results: produce and consume throughput (median msgs/s per
payload and client, the range as an error bar), produce → handler latency percentiles, and the
orderings (records/s with a 5 ms handler; CPU per record with a no-op one).
"""

import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"raw": "#555555", "typed": "#d9480f", "detached": "#ffa94d", "detached@throughput": "#ffd8a8",
          "runner": "#f08c00", "runner@low_latency": "#e8590c", "java": "#c92a2a",
          "confluent": "#1971c2", "aiokafka": "#2f9e44", "faststream": "#9c36b5"}
WORKLOADS = ["100 B bytes", "1 KB JSON", "10 KB JSON"]


def throughput(ax, runs, op, clients, title):
    width = 0.8 / len(clients)
    for j, client in enumerate(clients):
        medians, lows, highs = [], [], []
        for workload in WORKLOADS:
            rates = [r["messages"] / r["seconds"] for r in runs
                     if r["op"] == op and r["workload"] == workload and r["client"] == client]
            m = statistics.median(rates) if rates else 0
            medians.append(m)
            lows.append(m - min(rates) if rates else 0)
            highs.append(max(rates) - m if rates else 0)
        xs = [i + (j - (len(clients) - 1) / 2) * width for i in range(len(WORKLOADS))]
        ax.bar(xs, medians, width, yerr=[lows, highs], label=client, color=COLORS[client], capsize=2)
    ax.set_xticks(range(len(WORKLOADS)), WORKLOADS)
    ax.set_yscale("log")
    ax.set_ylabel("msgs/s (log)")
    ax.set_title(title)
    ax.legend(fontsize=7)
    ax.grid(axis="y", which="both", alpha=0.3)


def latency(ax, runs, rates, clients):
    labels, groups = [], []
    for rate in rates:
        for client in clients:
            picked = [r["latency"] for r in runs
                      if r["op"] == "latency" and r["rate"] == rate and r["client"] == client and r["latency"]]
            if picked:
                labels.append(f"{client.replace('@', chr(10) + '@')}\n{rate // 1000}k/s")
                groups.append([statistics.median(p[k] for p in picked) / 1000
                               for k in ("p50_us", "p99_us", "p999_us")])
    xs = range(len(groups))
    for k, (name, shade) in enumerate([("p50", 0.45), ("p99", 0.7), ("p99.9", 1.0)]):
        ax.bar([x + (k - 1) * 0.27 for x in xs], [g[k] for g in groups], 0.27, label=name,
               color=(0.85 * shade, 0.3 * shade, 0.05 * shade))
    ax.axhline(2, color="red", linestyle="--", linewidth=1, label="2 ms p99 target (1k/s)")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("ms (log)")
    ax.set_title("Produce call → handler latency, 1 KB JSON")
    ax.legend(fontsize=7)
    ax.grid(axis="y", which="both", alpha=0.3)


def orderings(ax, runs):
    names = ["partition", "key", "unordered"]
    rates, cpus = [], []
    for name in names:
        client = f"runner/{name}"
        waits = [r["messages"] / r["seconds"] for r in runs
                 if r["op"] == "ordered" and r["workload"] == "5 ms handler" and r["client"] == client]
        noop = [r["cpu_seconds"] * 1e6 / max(r["messages"], 1) for r in runs
                if r["op"] == "ordered" and r["workload"] == "no-op handler" and r["client"] == client]
        rates.append(statistics.median(waits) if waits else 0)
        cpus.append(statistics.median(noop) if noop else 0)
    bars = ax.bar(names, rates, 0.6, color=["#555555", "#f08c00", "#ffa94d"])
    for bar, rate, cpu in zip(bars, rates, cpus):
        ax.annotate(f"{rate:,.0f}/s\nno-op: {cpu:.2f} CPU µs/record", (bar.get_x() + bar.get_width() / 2, rate),
                    ha="center", va="bottom", fontsize=8)
    ax.set_yscale("log")
    if max(rates) > 0:
        ax.set_ylim(min(r for r in rates if r > 0) / 2, max(rates) * 4)
    ax.set_ylabel("records/s (log)")
    ax.set_title("Orderings: 3 partitions, 1,000 keys, a handler awaiting 5 ms, max_in_flight(64)")
    ax.grid(axis="y", which="both", alpha=0.3)


def main():
    results = json.load(open(sys.argv[1]))
    runs = results["runs"]
    has_orderings = any(r["op"] == "ordered" for r in runs)
    rows = 4 if has_orderings else 3
    fig, axes = plt.subplots(rows, 1, figsize=(11, 4.4 * rows))
    throughput(axes[0], runs, "produce",
               ["raw", "typed", "detached", "detached@throughput", "java", "confluent", "aiokafka",
                "faststream"],
               "Produce (acknowledged records)")
    throughput(axes[1], runs, "consume",
               ["raw", "typed", "runner", "java", "confluent", "aiokafka", "faststream"],
               "Consume (decode, no-op handler, commit)")
    latency(axes[2], runs, results["config"]["rates"],
            ["raw", "runner", "runner@low_latency", "java", "confluent", "aiokafka", "faststream"])
    if has_orderings:
        orderings(axes[3], runs)
    machine = results["machine"]
    fig.suptitle(f"kafka-utils vs raw rust-rdkafka vs the Java and Python clients — {machine.get('cpu', '')}, "
                 f"{machine.get('cores', '?')} cores; {results['started']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=90)


if __name__ == "__main__":
    main()
