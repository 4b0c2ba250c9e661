/*
 * A long link in user space, for kernels without netem: forwards IP packets between two TUN devices, holding each
 * one for a fixed one-way delay and dropping a given fraction at random, one packet at a time or in bursts of a
 * given mean length (a Gilbert model: a burst starts with the probability that gives the fraction, and each
 * packet in it ends it with probability 1/burst). The C twin of delay_line.py (same
 * arguments, same behaviour), for rates at which the Python one would itself be the bottleneck; the harness builds
 * it with cc when it can and falls back to delay_line.py otherwise.
 *
 * The harness creates the two TUN devices, starts this program (it attaches to both by name and prints READY),
 * then moves each device into its own network namespace. TCP runs end to end through it, so both kernels see the
 * round trip, the losses and the window they need. The rate is set with tbf on the devices.
 *
 * Usage: delay_line DEV_A DEV_B --delay-ms MS [--loss FRACTION] [--loss-burst PACKETS] [--seed N]
 *                   [--queue-packets N]
 *        delay_line --simulate PACKETS [--loss FRACTION] [--loss-burst PACKETS] [--seed N]
 * --simulate runs the loss decisions alone, for one direction, and prints what they dropped: the fraction and the
 * mean burst length, to check the model without devices.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_PACKET 65536

struct slot
{
    uint64_t due_ns;
    uint32_t length;
    unsigned char *data;
};

/* One direction: a ring of packets in arrival order; with a fixed delay, the head is always the next one due. */
struct queue
{
    struct slot *slots;
    size_t capacity;
    size_t head;
    size_t count;
    unsigned long forwarded;
    unsigned long lost;
    unsigned long overflowed;
    int in_burst;
};

/* The loss model, the same for both directions (each keeps its own burst state). */
static double loss = 0;
static double burst_start = 0; /* probability that a packet outside a burst starts one */
static double burst_end = 1;   /* probability that a burst ends after each of its packets */

static volatile sig_atomic_t running = 1;

static void on_signal(int signum)
{
    (void)signum;
    running = 0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int attach(const char *name)
{
    struct ifreq ifr;
    const int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
    {
        perror("open /dev/net/tun");
        exit(2);
    }
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
    {
        fprintf(stderr, "TUNSETIFF %s: %s\n", name, strerror(errno));
        exit(2);
    }
    return fd;
}

/* xorshift64*: loss decisions only, seeded for repeatable runs */
static uint64_t rng_state;

static double next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

static void usage(void)
{
    fprintf(stderr, "usage: delay_line DEV_A DEV_B --delay-ms MS [--loss FRACTION] [--loss-burst PACKETS] "
        "[--seed N] [--queue-packets N]\n       delay_line --simulate PACKETS [--loss FRACTION] "
        "[--loss-burst PACKETS] [--seed N]\n");
    exit(2);
}

/* Whether the next packet of this direction is dropped. Independent drops draw one number per packet. */
static int drop(struct queue *q)
{
    if (loss <= 0)
    {
        return 0;
    }
    if (burst_end >= 1)
    {
        return next_random() < loss;
    }
    if (!q->in_burst && next_random() < burst_start)
    {
        q->in_burst = 1;
    }
    if (q->in_burst)
    {
        if (next_random() < burst_end)
        {
            q->in_burst = 0;
        }
        return 1;
    }
    return 0;
}

static int simulate(unsigned long packets)
{
    struct queue q;
    memset(&q, 0, sizeof(q));
    unsigned long dropped = 0;
    unsigned long bursts = 0;
    int previous = 0;
    for (unsigned long i = 0; i < packets; i++)
    {
        const int d = drop(&q);
        dropped += (unsigned long)d;
        bursts += (unsigned long)(d && !previous);
        previous = d;
    }
    printf("packets %lu dropped %lu fraction %.6f bursts %lu mean_burst %.3f\n", packets, dropped,
        packets > 0 ? (double)dropped / (double)packets : 0.0, bursts,
        bursts > 0 ? (double)dropped / (double)bursts : 0.0);
    return 0;
}

static void release_due(struct queue *q, int out, uint64_t now)
{
    while (q->count > 0 && q->slots[q->head].due_ns <= now)
    {
        struct slot *s = &q->slots[q->head];
        if (write(out, s->data, s->length) >= 0)
        {
            q->forwarded++;
        }
        else
        {
            q->lost++; /* the other end is full or gone */
        }
        free(s->data);
        s->data = NULL;
        q->head = (q->head + 1) % q->capacity;
        q->count--;
    }
}

static void take_in(struct queue *q, int in, uint64_t delay_ns)
{
    static unsigned char scratch[MAX_PACKET];
    for (int i = 0; i < 64; i++)
    {
        const ssize_t n = read(in, scratch, sizeof(scratch));
        if (n <= 0)
        {
            if (n < 0 && errno != EAGAIN && errno != EINTR)
            {
                running = 0;
            }
            return;
        }
        if (drop(q))
        {
            q->lost++;
            continue;
        }
        if (q->count == q->capacity)
        {
            q->overflowed++;
            continue;
        }
        struct slot *s = &q->slots[(q->head + q->count) % q->capacity];
        if ((s->data = malloc((size_t)n)) == NULL)
        {
            q->overflowed++;
            continue;
        }
        memcpy(s->data, scratch, (size_t)n);
        s->length = (uint32_t)n;
        s->due_ns = now_ns() + delay_ns;
        q->count++;
    }
}

int main(int argc, char **argv)
{
    double delay_ms = -1;
    double burst = 1;
    unsigned long seed = 1;
    unsigned long simulated = 0;
    size_t capacity = 20000;
    const int simulating = argc >= 2 && strcmp(argv[1], "--simulate") == 0;
    if (argc < 3)
    {
        usage();
    }
    for (int i = simulating ? 1 : 3; i < argc; i++)
    {
        if (i + 1 >= argc)
        {
            usage();
        }
        if (strcmp(argv[i], "--delay-ms") == 0)
        {
            delay_ms = atof(argv[++i]);
        }
        else if (strcmp(argv[i], "--loss") == 0)
        {
            loss = atof(argv[++i]);
        }
        else if (strcmp(argv[i], "--loss-burst") == 0)
        {
            burst = atof(argv[++i]);
        }
        else if (simulating && strcmp(argv[i], "--simulate") == 0)
        {
            const long count = strtol(argv[++i], NULL, 10);
            if (count <= 0)
            {
                usage();
            }
            simulated = (unsigned long)count;
        }
        else if (strcmp(argv[i], "--seed") == 0)
        {
            seed = strtoul(argv[++i], NULL, 10);
        }
        else if (strcmp(argv[i], "--queue-packets") == 0)
        {
            capacity = strtoul(argv[++i], NULL, 10);
        }
        else
        {
            usage();
        }
    }
    /* written so that NaN fails every test */
    if (!(simulating || delay_ms >= 0) || !(loss >= 0 && loss < 1) || !(burst >= 1) || capacity < 1)
    {
        fprintf(stderr, "the delay must be >= 0, the loss in [0, 1), the burst at least 1 packet and the queue at "
            "least 1 packet\n");
        return 2;
    }
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    /* bursts of mean length B (each packet in one ends it with probability 1/B) that start with probability p
       per packet outside one drop L = B / ((1 - p) / p + B) of all packets: p = L / (B (1 - L) + L) */
    burst_end = 1.0 / burst;
    burst_start = loss / (burst * (1.0 - loss) + loss);
    if (simulating)
    {
        return simulate(simulated);
    }

    struct queue queues[2];
    for (int d = 0; d < 2; d++)
    {
        memset(&queues[d], 0, sizeof(queues[d]));
        queues[d].capacity = capacity;
        queues[d].slots = calloc(capacity, sizeof(struct slot));
        if (queues[d].slots == NULL)
        {
            perror("calloc");
            return 2;
        }
    }
    const int fds[2] = {attach(argv[1]), attach(argv[2])};
    const uint64_t delay_ns = (uint64_t)(delay_ms * 1e6);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("READY\n");
    fflush(stdout);

    while (running)
    {
        struct pollfd pfds[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
        uint64_t now = now_ns();
        uint64_t next_due = UINT64_MAX;
        int timeout_ms;
        for (int d = 0; d < 2; d++)
        {
            release_due(&queues[d], fds[1 - d], now);
            if (queues[d].count > 0 && queues[d].slots[queues[d].head].due_ns < next_due)
            {
                next_due = queues[d].slots[queues[d].head].due_ns;
            }
        }
        if (next_due == UINT64_MAX)
        {
            timeout_ms = 200;
        }
        else
        {
            now = now_ns();
            timeout_ms = next_due <= now ? 0 : (int)((next_due - now + 999999) / 1000000);
        }
        if (poll(pfds, 2, timeout_ms) < 0 && errno != EINTR)
        {
            perror("poll");
            break;
        }
        for (int d = 0; d < 2; d++)
        {
            if (pfds[d].revents & (POLLERR | POLLHUP | POLLNVAL))
            {
                running = 0; /* a device went away (its namespace was deleted): nothing left to forward */
            }
            if (pfds[d].revents & POLLIN)
            {
                take_in(&queues[d], fds[d], delay_ns);
            }
        }
    }
    fprintf(stderr, "forwarded a->b %lu b->a %lu, dropped (loss) %lu / %lu, dropped (queue full) %lu / %lu\n",
        queues[0].forwarded, queues[1].forwarded, queues[0].lost, queues[1].lost, queues[0].overflowed,
        queues[1].overflowed);
    return 0;
}
