#!/usr/bin/env python3
"""Screenshots for the README: `sattva top` (tmux capture-pane with colours, rendered to PNG with
Pillow) and a Prometheus query (query_range over its HTTP API, plotted with matplotlib), both of
one real-time `sattva run` scraped by a real Prometheus.

    third_party/venv/bin/python scripts/observe_screenshots.py [--sattva target/release/sattva]
Writes docs/img/sattva_top.png and docs/img/prometheus_query.png."""
import argparse, json, os, re, socket, subprocess, tempfile, time, urllib.parse, urllib.request
from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PALETTE = {30: (0, 0, 0), 31: (205, 49, 49), 32: (13, 188, 121), 33: (229, 229, 16),
           34: (36, 114, 200), 35: (188, 63, 188), 36: (17, 168, 205), 37: (229, 229, 229),
           90: (102, 102, 102)}
FG, BG = (220, 220, 220), (24, 24, 28)


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def render_ansi(text, path, font="/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"):
    f = ImageFont.truetype(font, 16)
    cw, ch = f.getbbox("M")[2], 20
    lines = text.rstrip("\n").split("\n")
    img = Image.new("RGB", (cw * 80 + 16, ch * len(lines) + 16), BG)
    d = ImageDraw.Draw(img)
    for y, line in enumerate(lines):
        fg, bg, rev, bold, x = FG, None, False, False, 0
        for tok in re.split(r"(\x1b\[[0-9;]*m)", line):
            m = re.fullmatch(r"\x1b\[([0-9;]*)m", tok)
            if m:
                codes = [int(c) for c in m.group(1).split(";") if c] or [0]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0: fg, bg, rev, bold = FG, None, False, False
                    elif c == 1: bold = True
                    elif c == 7: rev = True
                    elif c == 27: rev = False
                    elif c in PALETTE: fg = PALETTE[c]
                    elif 40 <= c <= 47: bg = PALETTE[c - 10]
                    elif c == 39: fg = FG
                    elif c == 49: bg = None
                    elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                        i += 2
                    i += 1
                continue
            for chr_ in tok:
                a, b = (bg or BG, fg) if rev else (fg, bg)
                px, py = 8 + x * cw, 8 + y * ch
                if b is not None:
                    d.rectangle([px, py, px + cw, py + ch], fill=b)
                d.text((px, py), chr_, font=f, fill=a)
                if bold:
                    d.text((px + 1, py), chr_, font=f, fill=a)
                x += 1
    img.save(path)


def prom_query_range(port, q, start, end, step="1s"):
    url = f"http://127.0.0.1:{port}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": q, "start": start, "end": end, "step": step})
    return json.load(urllib.request.urlopen(url))["data"]["result"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sattva", default=os.path.join(ROOT, "target/release/sattva"))
    ap.add_argument("--seconds", type=float, default=40)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp()
    sock, tsock = os.path.join(tmp, "stats.sock"), os.path.join(tmp, "tmux.sock")
    mport, pport = free_port(), free_port()
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: sattva\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{mport}']\n")
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp}/prometheus.yml",
                             f"--storage.tsdb.path={tmp}/tsdb", f"--web.listen-address=127.0.0.1:{pport}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = subprocess.Popen([a.sattva, "run", "--no-ros", "--duration", str(a.seconds), "--no-summary",
                              "-p", f"metrics.socket={sock}", "-p", f"metrics.listen=127.0.0.1:{mport}",
                              "-p", "metrics.linger_ms=3000"],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while not os.path.exists(sock):
        time.sleep(0.1)
    subprocess.run(["tmux", "-S", tsock, "new-session", "-d", "-s", "top", "-x", "80", "-y", "24",
                    f"{a.sattva} top --socket {sock}"], check=True)
    time.sleep(a.seconds * 0.75)
    screen = subprocess.run(["tmux", "-S", tsock, "capture-pane", "-e", "-p", "-t", "top"],
                            capture_output=True, text=True).stdout
    render_ansi(screen, os.path.join(ROOT, "docs/img/sattva_top.png"))
    subprocess.run(["tmux", "-S", tsock, "kill-server"])
    agent.wait()
    end = time.time()
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    qs = [('histogram_quantile(0.99, rate(sattva_task_wakeup_latency_seconds_bucket{task="control"}[5s])) * 1e6',
           "control wake-up latency p99 over 5 s (us)"),
          ('histogram_quantile(0.5, rate(sattva_task_wakeup_latency_seconds_bucket{task="control"}[5s])) * 1e6',
           "control wake-up latency p50 over 5 s (us)"),
          ("sattva_attractors", "attractors")]
    fig, axes = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True)
    for i, (q, label) in enumerate(qs):
        for r in prom_query_range(pport, q, t0, end):
            xs = [float(v[0]) - t0 for v in r["values"]]
            ys = [float(v[1]) for v in r["values"]]
            ax = axes[0] if i < 2 else axes[1]
            ax.plot(xs, ys, label=label)
    axes[0].set_ylabel("us"); axes[0].legend(fontsize=8); axes[0].grid(alpha=.3)
    axes[1].set_ylabel("attractors"); axes[1].set_xlabel("wall time (s)"); axes[1].legend(fontsize=8)
    axes[1].grid(alpha=.3)
    fig.suptitle("Prometheus 2.42 query_range over sattva run's /metrics (scrape 1 s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(os.path.join(ROOT, "docs/img/prometheus_query.png"), dpi=100)
    prom.terminate(); prom.wait()


if __name__ == "__main__":
    main()
