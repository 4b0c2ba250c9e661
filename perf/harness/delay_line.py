#!/usr/bin/env python3
"""A long link in user space, for kernels without netem: forwards IP packets between two TUN devices, holding each
one for a fixed one-way delay and dropping a given fraction at random, one packet at a time or in bursts of a given
mean length (a Gilbert model, as in delay_line.c).

The harness creates the two TUN devices, starts this program (which attaches to both by name and writes READY on
stdout), then moves each device into its own network namespace and gives it an address. TCP runs end to end through
it, as over a real path: the kernels at both ends see the round trip, the losses and the window they need, so
bandwidth-delay effects (a single ssh channel's window, TCP's own growth) show as they would on a WAN. The rate is
set with tbf on the devices, as on the veth link.

Usage: delay_line.py DEV_A DEV_B --delay-ms MS [--loss FRACTION] [--loss-burst PACKETS] [--seed N]
                     [--queue-packets N]
       delay_line.py --simulate PACKETS [--loss FRACTION] [--loss-burst PACKETS] [--seed N]
Stops on SIGTERM or SIGINT and prints what it forwarded and dropped on stderr. --simulate runs the loss decisions
alone, for one direction, and prints the fraction dropped and the mean burst length.
"""
import argparse
import collections
import fcntl
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65536


def attach(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


class Loss:
    """The drops of one direction: independent (one draw per packet), or bursts of mean length B that each packet
    in one ends with probability 1/B and that start with the probability p per packet outside one that makes the
    fraction dropped L = B / ((1 - p) / p + B), that is p = L / (B (1 - L) + L)."""

    def __init__(self, rng, loss, burst):
        self.rng = rng
        self.loss = loss
        self.end = 1.0 / burst
        self.start = loss / (burst * (1.0 - loss) + loss)
        self.in_burst = False

    def drop(self):
        if self.loss <= 0:
            return False
        if self.end >= 1:
            return self.rng.random() < self.loss
        if not self.in_burst and self.rng.random() < self.start:
            self.in_burst = True
        if self.in_burst:
            if self.rng.random() < self.end:
                self.in_burst = False
            return True
        return False


def simulate(packets, loss, burst, seed):
    model = Loss(random.Random(seed), loss, burst)
    dropped = bursts = 0
    previous = False
    for _ in range(packets):
        d = model.drop()
        dropped += d
        bursts += d and not previous
        previous = d
    print("packets %d dropped %d fraction %.6f bursts %d mean_burst %.3f" % (
        packets, dropped, dropped / packets if packets else 0.0, bursts, dropped / bursts if bursts else 0.0))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dev_a", nargs="?")
    parser.add_argument("dev_b", nargs="?")
    parser.add_argument("--delay-ms", type=float, help="one-way delay, each direction")
    parser.add_argument("--loss", type=float, default=0.0, help="fraction of packets dropped, each direction")
    parser.add_argument("--loss-burst", type=float, default=1.0,
                        help="mean length of a run of dropped packets (1: each packet on its own)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--queue-packets", type=int, default=20000,
                        help="packets held per direction at most; beyond it, packets are dropped (a full router)")
    parser.add_argument("--simulate", type=int, metavar="PACKETS",
                        help="run the loss decisions alone and print what they dropped")
    args = parser.parse_args()
    if not 0 <= args.loss < 1 or not args.loss_burst >= 1 or (args.simulate is not None and args.simulate < 1):
        parser.error("the loss must be in [0, 1), the burst at least 1 packet and a simulation at least 1 packet")
    if args.simulate is not None:
        simulate(args.simulate, args.loss, args.loss_burst, args.seed)
        return
    if args.dev_a is None or args.dev_b is None or args.delay_ms is None or args.delay_ms < 0:
        parser.error("two devices and a delay >= 0 are needed")

    fds = [attach(args.dev_a), attach(args.dev_b)]
    delay = args.delay_ms / 1000.0
    rng = random.Random(args.seed)
    losses = [Loss(rng, args.loss, args.loss_burst), Loss(rng, args.loss, args.loss_burst)]
    # queues[i]: packets read from fds[i], due to be written to fds[1 - i]
    queues = [collections.deque(), collections.deque()]
    forwarded = [0, 0]
    dropped = [0, 0]
    overflowed = [0, 0]
    running = [True]

    def stop(_signum, _frame):
        running[0] = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    print("READY", flush=True)

    while running[0]:
        now = time.monotonic()
        # release what is due
        for i in (0, 1):
            queue = queues[i]
            out = fds[1 - i]
            while queue and queue[0][0] <= now:
                _, packet = queue.popleft()
                try:
                    os.write(out, packet)
                    forwarded[i] += 1
                except BlockingIOError:
                    dropped[i] += 1
                except OSError:
                    # the other end is down (its namespace is being removed): nothing to deliver to
                    dropped[i] += 1
        due = [q[0][0] for q in queues if q]
        timeout_ms = max(0, int((min(due) - time.monotonic()) * 1000)) if due else 200
        try:
            events = poller.poll(timeout_ms)
        except InterruptedError:
            continue
        for fd, _ in events:
            i = 0 if fd == fds[0] else 1
            for _ in range(64):
                try:
                    packet = os.read(fd, MAX_PACKET)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    running[0] = False
                    break
                if losses[i].drop():
                    dropped[i] += 1
                elif len(queues[i]) >= args.queue_packets:
                    overflowed[i] += 1
                else:
                    queues[i].append((time.monotonic() + delay, packet))
    print("forwarded a->b %d b->a %d, dropped (loss) %d / %d, dropped (queue full) %d / %d" %
          (forwarded[0], forwarded[1], dropped[0], dropped[1], overflowed[0], overflowed[1]), file=sys.stderr)


if __name__ == "__main__":
    main()
