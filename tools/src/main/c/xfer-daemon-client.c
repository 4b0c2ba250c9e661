/*
 * xfer-daemon-client: bin/xfer's way to the user's client daemon without starting a JVM.
 *
 *   xfer-daemon-client JAVA [JAVA-OPTION...] io.xfer.tools.Main [ARGUMENT...]
 *
 * Its arguments are the JVM command line that bin/xfer would run. Where the daemon takes the command (see
 * ClientDaemon.java for the protocol), this process passes on what the command prints and ends with its exit code, as
 * the JVM's DaemonClient would, at a fraction of the start: no JVM is started. Wherever the daemon does not take it (no
 * daemon, XFER_DAEMON=off, a command the daemon does not run, a daemon of another build, JVM or context, one that
 * is busy or does not answer within 3 s), the JVM command line is run instead, in this process, with execv: the
 * command never runs twice, since the daemon runs nothing until it is told GO.
 *
 * The daemon checks that this client comes from its own installation: the JVM this command line names and the jars
 * its class path names must be the daemon's own, unchanged since it started (request kind RUN_NATIVE).
 *
 * A signal (SIGINT, SIGTERM, SIGHUP) while the command runs is passed on as CANCEL; the daemon interrupts the
 * command, which reports what a signal would have made it report, and this process then ends on that signal.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x58464431u /* "XFD1" */
#define RUN_NATIVE 4
#define GO 1
#define CANCEL 2
#define ACCEPTED 1
#define OUT 3
#define ERR 4
#define EXIT 5
#define INTERRUPTED 6
#define MAX_REPLY (16u << 20)
#define ANSWER_TIMEOUT_MS 3000
#define CANCEL_WAIT_MS 2000
#define EXIT_INTERNAL 1
#define MAIN_CLASS "io.xfer.tools.Main"

static char **java_command;
/* Whether the daemon was asked: then the JVM does not ask it again (XFER_DAEMON=off), which would double the wait
   for one that does not answer. */
static int asked;
/* The signal mask before this process blocked the signals it reads from a descriptor: the JVM gets it back. */
static sigset_t unblocked;
static int blocked;

/* The daemon does not take the command: run the JVM command line instead. */
static void run_jvm(void)
{
    if (asked && setenv("XFER_DAEMON", "off", 1) != 0)
    {
        fprintf(stderr, "xfer: cannot set XFER_DAEMON: %s\n", strerror(errno));
        exit(EXIT_INTERNAL);
    }
    signal(SIGPIPE, SIG_DFL);
    if (blocked)
    {
        sigprocmask(SIG_SETMASK, &unblocked, NULL); /* a signal that came meanwhile ends this process here */
    }
    execvp(java_command[0], java_command);
    fprintf(stderr, "xfer: cannot run %s: %s\n", java_command[0], strerror(errno));
    exit(127);
}

/* A growable request buffer: lengths and integers big-endian, as DataOutputStream writes them. */
struct buffer
{
    char *bytes;
    size_t length;
    size_t capacity;
};

static void put(struct buffer *b, const void *bytes, size_t length)
{
    if (b->length + length > b->capacity)
    {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->length + length)
        {
            capacity *= 2;
        }
        char *grown = realloc(b->bytes, capacity);
        if (grown == NULL)
        {
            run_jvm();
        }
        b->bytes = grown;
        b->capacity = capacity;
    }
    memcpy(b->bytes + b->length, bytes, length);
    b->length += length;
}

static void put_int(struct buffer *b, uint32_t value)
{
    unsigned char bytes[4] = {value >> 24, value >> 16, value >> 8, value};
    put(b, bytes, 4);
}

static void put_byte(struct buffer *b, unsigned char value)
{
    put(b, &value, 1);
}

static void put_string(struct buffer *b, const char *value)
{
    put_int(b, (uint32_t)strlen(value));
    put(b, value, strlen(value));
}

static int case_equal_any(const char *value, const char *const *choices)
{
    for (; *choices != NULL; choices++)
    {
        if (strcasecmp(value, *choices) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* Whether the first word that is not an option names a command the daemon runs (DaemonClient.served). */
static int served(int argc, char **argv)
{
    static const char *const commands[] = {"send", "get", "ping", NULL};
    for (int i = 0; i < argc; i++)
    {
        if (argv[i][0] != '-')
        {
            for (const char *const *command = commands; *command != NULL; command++)
            {
                if (strcmp(argv[i], *command) == 0)
                {
                    return 1;
                }
            }
            return 0;
        }
    }
    return 0;
}

/* The daemon's socket, as ClientDaemon.defaultSocket() finds it; 0 if its path does not fit. */
static int socket_path(char *path, size_t size)
{
    const char *explicit = getenv("XFER_DAEMON_SOCKET");
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    const char *home = getenv("XFER_HOME");
    int n;
    if (explicit != NULL && *explicit != '\0')
    {
        n = snprintf(path, size, "%s", explicit);
    }
    else if (runtime != NULL && *runtime != '\0')
    {
        n = snprintf(path, size, "%s/xfer/client.sock", runtime);
    }
    else if (home != NULL && *home != '\0')
    {
        n = snprintf(path, size, "%s/run/client.sock", home);
    }
    else
    {
        /* the JVM's user.home: the password database's, not $HOME */
        const struct passwd *user = getpwuid(getuid());
        if (user == NULL || user->pw_dir == NULL)
        {
            return 0;
        }
        n = snprintf(path, size, "%s/.xfer/run/client.sock", user->pw_dir);
    }
    return n > 0 && (size_t)n < size;
}

/* The real path of the program that execvp would run for `name`; 0 if there is none. */
static int program_path(const char *name, char *resolved)
{
    if (strchr(name, '/') != NULL)
    {
        return realpath(name, resolved) != NULL;
    }
    const char *path = getenv("PATH");
    if (path == NULL)
    {
        return 0;
    }
    char candidate[PATH_MAX];
    while (*path != '\0')
    {
        const char *end = strchr(path, ':');
        size_t length = end != NULL ? (size_t)(end - path) : strlen(path);
        int n = length == 0 ? snprintf(candidate, sizeof candidate, "./%s", name) :
            snprintf(candidate, sizeof candidate, "%.*s/%s", (int)length, path, name);
        struct stat st;
        if (n > 0 && (size_t)n < sizeof candidate && stat(candidate, &st) == 0 && S_ISREG(st.st_mode) &&
            access(candidate, X_OK) == 0)
        {
            return realpath(candidate, resolved) != NULL;
        }
        path += length;
        if (*path == ':')
        {
            path++;
        }
    }
    return 0;
}

/*
 * What of this process a command run on its behalf must share (ClientDaemon.context()), with the encoding named by
 * this locale's codeset, which the daemon compares as a charset.
 */
static void put_context(struct buffer *request, const char *codeset)
{
    struct buffer context = {0};
    FILE *status = fopen("/proc/self/status", "r");
    if (status != NULL)
    {
        char line[4096];
        while (fgets(line, sizeof line, status) != NULL)
        {
            if (strncmp(line, "Umask:", 6) != 0 && strncmp(line, "Gid:", 4) != 0 && strncmp(line, "Groups:", 7) != 0)
            {
                continue;
            }
            /* runs of white space as one blank, as Java's replaceAll("\\s+", " "); the line's end is not part */
            size_t length = strcspn(line, "\n");
            int blank = 0;
            for (size_t i = 0; i < length; i++)
            {
                if (strchr(" \t\v\f\r", line[i]) != NULL)
                {
                    blank = 1;
                    continue;
                }
                if (blank)
                {
                    put(&context, " ", 1);
                    blank = 0;
                }
                put(&context, &line[i], 1);
            }
            if (blank)
            {
                put(&context, " ", 1);
            }
            put(&context, "; ", 2);
        }
        fclose(status);
    }
    else
    {
        put(&context, "status ?; ", 10);
    }
    static const char *const links[] = {"/proc/self/ns/mnt", "/proc/self/root", NULL};
    for (const char *const *link = links; *link != NULL; link++)
    {
        char target[PATH_MAX];
        ssize_t n = readlink(*link, target, sizeof target - 1);
        if (n > 0)
        {
            put(&context, target, (size_t)n);
        }
        else
        {
            put(&context, *link, strlen(*link));
            put(&context, " ?", 2);
        }
        put(&context, "; ", 2);
    }
    put(&context, "encoding ", 9);
    put(&context, codeset, strlen(codeset));
    put(&context, "/", 1);
    put(&context, codeset, strlen(codeset));
    const char *options = getenv("XFER_JAVA_OPTS");
    if (options == NULL)
    {
        put(&context, "; XFER_JAVA_OPTS unset", 22);
    }
    else
    {
        put(&context, "; XFER_JAVA_OPTS '", 18);
        put(&context, options, strlen(options));
        put(&context, "'", 1);
    }
    put_int(request, (uint32_t)context.length);
    put(request, context.bytes, context.length);
    free(context.bytes);
}

static long long now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Write or read exactly `length` bytes; -1 on an error, or at the end of the connection when reading. */
static int whole(int fd, char *at, size_t length, int writing)
{
    while (length > 0)
    {
        ssize_t n = writing ? write(fd, at, length) : read(fd, at, length);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n <= 0)
        {
            return -1;
        }
        at += n;
        length -= (size_t)n;
    }
    return 0;
}

static int write_all(int fd, const void *bytes, size_t length)
{
    return whole(fd, (char *)bytes, length, 1);
}

static int read_all(int fd, void *bytes, size_t length)
{
    return whole(fd, bytes, length, 0);
}

static int read_int(int fd, uint32_t *value)
{
    unsigned char bytes[4];
    if (read_all(fd, bytes, 4) != 0)
    {
        return -1;
    }
    *value = (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
    return 0;
}

/* End on `signal`, as the process would have ended on it had it not been caught. */
static void die_by(int signal)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal);
    struct sigaction action = {0};
    action.sa_handler = SIG_DFL;
    sigaction(signal, &action, NULL);
    raise(signal);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    _exit(128 + signal);
}

static void lost(const char *why)
{
    fprintf(stderr, "xfer: the client daemon was lost during the command: %s\n", why);
    exit(EXIT_INTERNAL);
}

int main(int argc, char **argv)
{
    int main_at = 0;
    for (int i = 1; i < argc; i++)
    {
        if (strcmp(argv[i], MAIN_CLASS) == 0)
        {
            main_at = i;
            break;
        }
    }
    if (argc < 2 || main_at == 0)
    {
        fprintf(stderr, "usage: %s JAVA [JAVA-OPTION...] %s [ARGUMENT...]\n", argv[0], MAIN_CLASS);
        return 2;
    }
    java_command = argv + 1;
    const char *class_path = NULL;
    for (int i = 2; i + 1 < main_at; i++)
    {
        if (strcmp(argv[i], "-cp") == 0 || strcmp(argv[i], "-classpath") == 0 ||
            strcmp(argv[i], "--class-path") == 0)
        {
            class_path = argv[i + 1];
        }
    }
    int arguments = argc - main_at - 1;
    char **command = argv + main_at + 1;
    static const char *const off[] = {"off", "no", "0", "false", NULL};
    const char *setting = getenv("XFER_DAEMON");
    if ((setting != NULL && case_equal_any(setting, off)) || class_path == NULL || !served(arguments, command))
    {
        run_jvm();
    }
    struct sockaddr_un address = {.sun_family = AF_UNIX};
    struct stat st;
    char java[PATH_MAX];
    if (!socket_path(address.sun_path, sizeof address.sun_path) || lstat(address.sun_path, &st) != 0 ||
        !program_path(java_command[0], java))
    {
        run_jvm();
    }

    /* signals wait in a descriptor from here on: none is lost, and none ends this process before its time */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGHUP);
    sigprocmask(SIG_BLOCK, &signals, &unblocked);
    blocked = 1;
    int pending = signalfd(-1, &signals, SFD_CLOEXEC);
    int daemon = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct ucred peer;
    socklen_t peer_size = sizeof peer;
    if (pending < 0 || daemon < 0 || connect(daemon, (struct sockaddr *)&address, sizeof address) != 0 ||
        getsockopt(daemon, SOL_SOCKET, SO_PEERCRED, &peer, &peer_size) != 0 || peer.uid != geteuid())
    {
        run_jvm();
    }

    setlocale(LC_ALL, "");
    const char *codeset = nl_langinfo(CODESET);
    char directory[PATH_MAX];
    if (getcwd(directory, sizeof directory) == NULL)
    {
        run_jvm();
    }
    const char *xfer_home = getenv("XFER_HOME");
    struct buffer request = {0};
    put_int(&request, MAGIC);
    put_byte(&request, RUN_NATIVE);
    put_string(&request, ""); /* the build: for this client, the daemon checks the two that follow */
    put_string(&request, java);
    put_string(&request, class_path);
    put_string(&request, codeset != NULL ? codeset : "");
    put_context(&request, codeset != NULL ? codeset : "");
    put_string(&request, directory);
    put_string(&request, xfer_home != NULL ? xfer_home : "");
    put_byte(&request, isatty(0) && isatty(1));
    put_int(&request, (uint32_t)arguments);
    for (int i = 0; i < arguments; i++)
    {
        put_string(&request, command[i]);
    }
    signal(SIGPIPE, SIG_IGN); /* a closed stdout or stderr fails its writes, as the JVM's do */

    /* the answer: taken, or not (then the JVM runs the command) */
    unsigned char answer = 0;
    asked = 1;
    struct pollfd wait = {.fd = daemon, .events = POLLIN};
    long long deadline = now_ms() + ANSWER_TIMEOUT_MS;
    int ready = 0;
    if (write_all(daemon, request.bytes, request.length) == 0)
    {
        long long left;
        while ((left = deadline - now_ms()) > 0 && (ready = poll(&wait, 1, (int)left)) < 0 && errno == EINTR)
        {
        }
    }
    free(request.bytes);
    if (ready <= 0 || read_all(daemon, &answer, 1) != 0 || answer != ACCEPTED)
    {
        close(daemon);
        close(pending);
        run_jvm();
    }

    /* a signal that came before the command started: it never will */
    struct signalfd_siginfo caught;
    struct pollfd check = {.fd = pending, .events = POLLIN};
    if (poll(&check, 1, 0) > 0 && read(pending, &caught, sizeof caught) == sizeof caught)
    {
        die_by((int)caught.ssi_signo);
    }
    unsigned char go = GO;
    if (write_all(daemon, &go, 1) != 0)
    {
        lost("it closed the connection");
    }

    int cancelled = 0;
    long long cancel_deadline = 0;
    char chunk[65536];
    while (1)
    {
        struct pollfd both[2] = {{.fd = daemon, .events = POLLIN}, {.fd = pending, .events = POLLIN}};
        int timeout = -1;
        if (cancelled)
        {
            long long left = cancel_deadline - now_ms();
            if (left <= 0)
            {
                die_by(cancelled);
            }
            timeout = (int)left;
        }
        int n = poll(both, cancelled ? 1 : 2, timeout);
        if (n < 0 && errno == EINTR)
        {
            continue;
        }
        if (n < 0)
        {
            lost(strerror(errno));
        }
        if (!cancelled && (both[1].revents & POLLIN) &&
            read(pending, &caught, sizeof caught) == sizeof caught)
        {
            /* the command's report of the signal is copied out (bounded), then this process ends on it */
            cancelled = (int)caught.ssi_signo;
            cancel_deadline = now_ms() + CANCEL_WAIT_MS;
            unsigned char cancel = CANCEL;
            if (write_all(daemon, &cancel, 1) != 0)
            {
                die_by(cancelled);
            }
            continue;
        }
        if (!(both[0].revents & (POLLIN | POLLHUP | POLLERR)))
        {
            continue;
        }
        unsigned char type;
        if (read_all(daemon, &type, 1) != 0)
        {
            if (cancelled)
            {
                die_by(cancelled);
            }
            lost("the daemon ended during the command");
        }
        uint32_t length;
        switch (type)
        {
            case OUT:
            case ERR:
            {
                if (read_int(daemon, &length) != 0 || length > MAX_REPLY)
                {
                    if (cancelled)
                    {
                        die_by(cancelled);
                    }
                    lost("a reply cut short or too long");
                }
                static int failed[2];
                int target = type == OUT ? 1 : 2;
                while (length > 0)
                {
                    size_t part = length < sizeof chunk ? length : sizeof chunk;
                    if (read_all(daemon, chunk, part) != 0)
                    {
                        if (cancelled)
                        {
                            die_by(cancelled);
                        }
                        lost("a reply cut short");
                    }
                    /* writes that fail (a closed pipe) are dropped, as the process's own would be */
                    if (!failed[target - 1] && write_all(target, chunk, part) != 0)
                    {
                        failed[target - 1] = 1;
                    }
                    length -= (uint32_t)part;
                }
                break;
            }
            case EXIT:
            {
                uint32_t code;
                if (read_int(daemon, &code) != 0)
                {
                    lost("the exit code cut short");
                }
                if (cancelled)
                {
                    die_by(cancelled);
                }
                return (int)(code & 0xff);
            }
            case INTERRUPTED:
                if (!cancelled)
                {
                    lost("it interrupted the command unasked");
                }
                die_by(cancelled);
                break;
            default:
            {
                char why[64];
                snprintf(why, sizeof why, "unknown reply %u", type);
                lost(why);
            }
        }
    }
}
