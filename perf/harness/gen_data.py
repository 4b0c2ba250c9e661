#!/usr/bin/env python3
"""Generates the perf harness data sets (python3 standard library only).

  gen_data.py random FILE SIZE          incompressible bytes (os.urandom)
  gen_data.py text FILE SIZE            log-like text, about 3-5x compressible by LZ4
  gen_data.py tree DIR COUNT FILE_SIZE  COUNT incompressible files in 100-file directories

SIZE accepts k, m, g suffixes (binary). Output is deterministic for text and tree layout; random bytes differ run
to run, which does not matter for incompressible data.
"""
import os
import random
import sys

BLOCK = 1 << 20


def parse_size(text):
    text = text.strip().lower()
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def write_random(path, size):
    with open(path, "wb") as out:
        left = size
        while left > 0:
            n = min(BLOCK, left)
            out.write(os.urandom(n))
            left -= n


METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE", "HEAD"]
PATHS = ["/api/v1/objects", "/api/v1/objects/upload", "/api/v2/datasets", "/api/v2/datasets/manifest",
         "/healthz", "/metrics", "/static/app.js", "/static/style.css", "/login", "/api/v1/jobs",
         "/api/v1/jobs/status", "/api/v2/checkpoints"]
STATUS = [200, 200, 200, 200, 201, 204, 304, 400, 403, 404, 500, 503]
AGENTS = ["curl/8.5.0", "python-requests/2.31.0", "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0",
          "xfer/0.1.0", "Go-http-client/2.0", "Apache-HttpClient/5.3 (Java/17.0.15)"]
LEVELS = ["INFO", "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"]
HOSTS = ["edge-hk-%02d" % i for i in range(1, 17)] + ["edge-fj-%02d" % i for i in range(1, 17)]


def text_block(rng, target, start_seconds):
    """About `target` bytes of access-log-like lines with structure (repeated vocabulary, incrementing timestamps)
    and entropy (addresses, ids, sizes, latencies), so that LZ4 compresses it a few times, like real logs."""
    lines = []
    total = 0
    t = start_seconds
    clients = [rng.randrange(1, 255) for _ in range(24)]
    sessions = [rng.getrandbits(48) for _ in range(64)]
    while total < target:
        t += rng.random() * 0.01
        secs = int(t)
        hh, mm, ss = (secs // 3600) % 24, (secs // 60) % 60, secs % 60
        if rng.random() < 0.02:
            sessions[rng.randrange(len(sessions))] = rng.getrandbits(48)
        line = ("2025-06-%02dT%02d:%02d:%02d.%03dZ %s %s 192.0.2.%d %s %s HTTP/1.1 %d %d %.1fms \"%s\" "
                "session=%012x\n") % (
            1 + (secs // 86400) % 28, hh, mm, ss, int((t - secs) * 1e3), rng.choice(LEVELS), rng.choice(HOSTS),
            rng.choice(clients), rng.choice(METHODS), rng.choice(PATHS), rng.choice(STATUS),
            rng.randrange(0, 1 << rng.randrange(4, 16)), rng.random() * 250, rng.choice(AGENTS),
            rng.choice(sessions))
        lines.append(line)
        total += len(line)
    return "".join(lines).encode("ascii"), t


def write_text(path, size):
    rng = random.Random(20250601)
    # Generating every line in Python is slow (~50 MB/s); a 16 MiB block of real lines, then digit-permuted
    # copies of it (bytes.translate runs at memory speed), keeps the structure and entropy of every block while
    # making each block different. LZ4's 64 KiB window never sees one block from another anyway.
    block, _ = text_block(rng, 16 << 20, 1_748_736_000.0)
    digits = b"0123456789"
    with open(path, "wb") as out:
        left = size
        i = 0
        while left > 0:
            perm = list(digits)
            random.Random(i).shuffle(perm)
            table = bytes.maketrans(digits, bytes(perm)) if i else None
            data = block.translate(table) if table else block
            n = min(len(data), left)
            out.write(data[:n])
            left -= n
            i += 1


def write_tree(root, count, file_size):
    os.makedirs(root, exist_ok=True)
    per_dir = 100
    for i in range(count):
        d = os.path.join(root, "d%04d" % (i // per_dir))
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "f%06d.bin" % i), "wb") as out:
            out.write(os.urandom(file_size))


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    kind = argv[1]
    if kind == "random" and len(argv) == 4:
        write_random(argv[2], parse_size(argv[3]))
    elif kind == "text" and len(argv) == 4:
        write_text(argv[2], parse_size(argv[3]))
    elif kind == "tree" and len(argv) == 5:
        write_tree(argv[2], int(argv[3]), parse_size(argv[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
