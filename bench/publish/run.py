"""Benchmark: upload throughput to the loopback fakes of YouTube, TikTok and Instagram, and
what resuming after a failure costs on each.

    .venv/bin/python bench/publish/run.py [--mib 64] [--rounds 3] [--platforms ...]

Each fake runs in its own process (the platform is another machine), on loopback, and
writes what it receives to disk; every upload's sha256 there must be the file's. Side by
side, rounds alternating, the same file (random bytes, not a multiple of a chunk):

- YouTube (youtube.py): the publisher (resumable, 8 MiB and 1 MiB chunks) against
  google-api-python-client's default one-shot upload.
- TikTok (tiktok.py) and Instagram (instagram.py): the publisher as production makes it,
  timed over its whole upload() (the fakes finish processing at once), against the
  ceiling of the protocol: one plain ``requests`` request carrying the whole file to the
  same endpoint, timed over that request.

Then the bytes each failure sends again: bytes in upload requests beyond the file's size,
a request cut off counted whole (an upper bound on what went on the wire). TikTok and
Instagram: a 5xx, a connection dropped mid-transfer, and a worker process SIGKILLed
halfway through the file and a new one that resumes from the journal it left; the
baseline has nothing to resume and starts over, each failure measured for it too.

Loopback has no latency and no bandwidth limit, and there is no --rate option: the
throughput figures are what each client costs in CPU and requests on this machine, not
what a home uplink gives (docs/benchmarks.md says what a round trip would add). The
fakes answer with Nagle's algorithm off (wagglebot_stack.fake_http says why).
YouTube's "worker died halfway" is simulated (503s from the half on, then a new
publisher); TikTok's and Instagram's is a real SIGKILL (worker.py).
Results go to bench/results/publish.json; a summary is printed at the end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import instagram
import measure
import tiktok
import youtube
from shared import MIB

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "bench" / "results" / "publish.json"
NOTE = (
    "Loopback fakes, each in its own process: no network latency or bandwidth limit. "
    "MiB/s is 2**20 bytes a second. Bytes re-sent: upload request bodies beyond the file's "
    "size, a request cut off (dropped, killed) counted whole."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=64, help="size of the test video")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--platforms", nargs="+", default=["youtube", "tiktok", "instagram"],
                        choices=["youtube", "tiktok", "instagram"])  # fmt: skip
    args = parser.parse_args()
    logging.getLogger("wagglebot").setLevel(logging.ERROR)  # each injected failure's retry
    results: dict = {"note": NOTE}
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as tmp:
        folder = Path(tmp)
        video = folder / "short.mp4"
        data = os.urandom(args.mib * MIB + 12_345)  # not a multiple of a chunk, as in life
        video.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if "youtube" in args.platforms:
            (folder / "youtube").mkdir()
            results["youtube"] = youtube.bench(folder / "youtube", video, args.rounds)
        for cls in (tiktok.TikTok, instagram.Instagram):
            if cls.name in args.platforms:
                results[cls.name] = measure.bench(cls, folder / cls.name, video, digest,
                                                  args.rounds)  # fmt: skip
    earlier = json.loads(OUT.read_text()) if OUT.exists() else {}
    merged = {**earlier, **results}  # a platform not run keeps its last figures
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(merged, indent=1, ensure_ascii=False) + "\n")
    print(summary(results))


def summary(results: dict) -> str:
    lines = [NOTE]
    if yt := results.get("youtube"):
        rates, size = yt["mib_per_s"], yt["file_mib"] * MIB
        lines += [
            f"\nYouTube ({yt['file_mib']} MiB, median of {yt['rounds']})",
            f"  throughput  publisher {rates['wagglebot']} MiB/s, one-shot "
            f"{rates['one-shot']} MiB/s: ratio {yt['ratio_wagglebot_to_one_shot']}",
        ]
        for what, c in yt["failure_overhead"].items():
            lines.append(f"  {what}: re-sent {c['bytes_resent'] / MIB:.2f} MiB, "
                         f"{c['bytes_resent'] / size:.3f} of one-shot's")  # fmt: skip
    for name, title in (("tiktok", "TikTok"), ("instagram", "Instagram")):
        if name in results:
            lines += _platform_lines(title, results[name])
    return "\n".join(lines)


def _platform_lines(title: str, r: dict) -> list[str]:
    rates = r["mib_per_s"]
    lines = [
        f"\n{title} ({r['file_mib']} MiB, median of {r['rounds']})",
        f"  throughput  publisher {rates['publisher']} MiB/s (its upload requests alone "
        f"{rates['publisher_transfer_only']}), baseline {rates['baseline']} MiB/s: "
        f"ratio {r['ratio_publisher_to_baseline']}",
    ]
    for case in r["failures"].values():
        ours, plain = case["publisher"], case["baseline"]
        lines.append(
            f"  {ours['failure']}: re-sent {ours['bytes_resent'] / MIB:.2f} MiB; baseline "
            f"({plain['failure']}) {plain['bytes_resent'] / MIB:.2f} MiB: "
            f"ratio {case['ratio_publisher_to_baseline']}"
        )
    return lines


if __name__ == "__main__":
    main()
