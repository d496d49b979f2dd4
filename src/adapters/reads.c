/*
 * vigil's read tracer. `vigil __runner` preloads it (LD_PRELOAD) into each
 * test process in coverage mode; the processes a test starts inherit it.
 * It notes, once per process, each path under the workspace root (outside
 * its target directory) that the process
 *   r  opened for reading,
 *   s  looked at (stat, access) and found,
 *   m  looked for and did not find,
 *   d  listed (opendir),
 * as lines "<kind> <absolute path>\n" appended to $VIGIL_READS_FILE ("%p"
 * in it: the process id). vigil reads them into the test's map: a change
 * to a file a test read, or a new file where it looked or listed, selects
 * that test. With $VIGIL_READS_TAG set, each line starts with the tag
 * and a space, and the process's first line is "<tag> +": many processes
 * share one file (no file made per test: on ext4 making one costs more than
 * all of a test's lines). With $VIGIL_READS_EXE set, only a process whose executable
 * has that file name notes anything: the doc lane preloads it into
 * `cargo test --doc`, and only rustdoc's examples (`rust_out`) are traced,
 * never cargo, rustc or rustdoc. With $VIGIL_READS_MAPPING set too ("%p":
 * the process id), such an example copies its own coverage mapping there
 * as it starts (rustdoc deletes its executable once it has run).
 *
 * With $VIGIL_READS_BUILD set (vigil sets it for the cargo that builds its
 * coverage runs), a build script (`build-script-build`) notes what it reads
 * into `vigil-reads` beside cargo's own record of its run (the parent of
 * $OUT_DIR, where cargo keeps `output` and `invoked.timestamp`), emptied as
 * it starts and opened with a "+" line; the processes it starts append
 * there too ($VIGIL_READS_FOLLOW, set for them). vigil reads it to tell
 * which of a package's files a build script without `rerun-if` lines
 * really depends on.
 *
 * The process the runner starts (the test itself, or a doctest) keeps its
 * lines in a buffer, written when it is full and as the process ends,
 * execs, forks or calls _exit/abort: one write for most tests, where a
 * write per line cost ~0.2 ms a test. A test killed before it ends failed,
 * and a failed test always reruns. What it starts writes each line at
 * once ($VIGIL_READS_CHILD, set for them): a server a test kills keeps
 * what it read.
 *
 * Its own I/O goes through raw system calls, it keeps errno as the call
 * left it, and it never changes what a call returns. No stat or fcntl
 * header is included: the functions below are defined with opaque
 * buffers, so glibc's inline wrappers cannot clash with them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define V_AT_FDCWD (-100)
#define V_O_ACCMODE 03
#define V_O_WRONLY 01
#define V_O_APPEND 02000
#define V_O_CREAT 0100
#define V_O_CLOEXEC 02000000
#define V_O_TRUNC 01000
/* __O_TMPFILE (asm-generic): a mode argument comes with it. */
#define V_O_TMPFILE 020000000
#define V_MAX 4096

typedef struct __dirstream DIR;

static int log_fd = -1;
/* "<tag> " before each line, when the record is shared. */
static char tag[128];
static size_t tag_len;
static char root[V_MAX];
static size_t root_len;
static char skip[V_MAX];
static size_t skip_len;
/* Hashes of the lines written (0: free); a full table just writes again.
 * Small: each page a process touches costs it a fault (a test notes tens
 * of lines, rarely thousands). */
static uint64_t seen[1024];
/* The lines not written yet (only where `buffered`), and who holds them. */
static int buffered;
static char pending[32768];
static size_t pending_len;
static int pending_lock;

static void write_fd(int fd, const char *p, size_t n) {
    while (n > 0) {
        long w = syscall(SYS_write, fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void write_all(const char *p, size_t n) {
    write_fd(log_fd, p, n);
}

/* Writes what is pending. It waits a little for a thread adding a line,
 * never forever (it runs as the process ends). */
static void flush(void) {
    if (log_fd < 0 || !buffered) {
        return;
    }
    int saved = errno;
    for (int i = 0; i < 100000 && __atomic_exchange_n(&pending_lock, 1, __ATOMIC_ACQUIRE); i++) {
        syscall(SYS_sched_yield);
    }
    write_all(pending, pending_len);
    pending_len = 0;
    __atomic_store_n(&pending_lock, 0, __ATOMIC_RELEASE);
    errno = saved;
}

/* A line for the record: kept with the others, or written at once where
 * the buffer is busy (another thread, or a signal handler's own call:
 * never a wait) or the process writes through. */
static void put(const char *line, size_t len) {
    if (!buffered || len > sizeof pending || __atomic_exchange_n(&pending_lock, 1, __ATOMIC_ACQUIRE)) {
        write_all(line, len);
        return;
    }
    if (pending_len + len > sizeof pending) {
        write_all(pending, pending_len);
        pending_len = 0;
    }
    memcpy(pending + pending_len, line, len);
    pending_len += len;
    __atomic_store_n(&pending_lock, 0, __ATOMIC_RELEASE);
}

/* A child of fork() (no exec): its copy is the parent's to write. */
static void forked(void) {
    pending_len = 0;
    buffered = 0;
}

/* As the process ends: what a later destructor or exit handler notes is
 * written at once. */
__attribute__((destructor)) static void vigil_reads_fini(void) {
    flush();
    buffered = 0;
}

/* Whether this process's executable is named `name`. */
static int exe_is(const char *name) {
    char exe[V_MAX];
    long l = syscall(SYS_readlinkat, V_AT_FDCWD, "/proc/self/exe", exe, sizeof exe - 1);
    if (l <= 0) {
        return 0;
    }
    exe[l] = 0;
    const char *base = strrchr(exe, '/');
    return strcmp(base ? base + 1 : exe, name) == 0;
}

/* ELF64 headers, as far as keep_mapping reads them. */
struct v_ehdr {
    unsigned char ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct v_shdr {
    uint32_t name, type;
    uint64_t flags, addr, offset, size;
    uint32_t link, info;
    uint64_t addralign, entsize;
};

static int read_at(int fd, void *buf, size_t n, uint64_t off) {
    char *p = buf;
    while (n > 0) {
        long r = syscall(SYS_pread64, fd, p, n, (long)off);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* A doctest's example (rustdoc deletes its executable once it has run):
 * its coverage mapping (`__llvm_covmap`, `__llvm_covfun`) copied to `out`
 * as "VGLM", then each section as its 8-byte length and its bytes, so
 * vigil can read its profile against the example's own functions and
 * tell which example it was. Nothing is written where anything fails. */
static void keep_mapping(const char *out) {
    int fd = (int)syscall(SYS_openat, V_AT_FDCWD, "/proc/self/exe", 0 /* O_RDONLY */ | V_O_CLOEXEC);
    if (fd < 0) {
        return;
    }
    struct v_ehdr eh;
    struct v_shdr sh[256];
    char names[4096];
    uint64_t at[2] = {0, 0}, len[2] = {0, 0};
    if (read_at(fd, &eh, sizeof eh, 0) || memcmp(eh.ident, "\177ELF\2\1", 6) || eh.shentsize != sizeof(struct v_shdr) ||
        eh.shnum == 0 || eh.shnum > 256 || eh.shstrndx >= eh.shnum ||
        read_at(fd, sh, (size_t)eh.shnum * sizeof(struct v_shdr), eh.shoff)) {
        syscall(SYS_close, fd);
        return;
    }
    size_t nlen = sh[eh.shstrndx].size < sizeof names - 1 ? (size_t)sh[eh.shstrndx].size : sizeof names - 1;
    if (read_at(fd, names, nlen, sh[eh.shstrndx].offset)) {
        syscall(SYS_close, fd);
        return;
    }
    names[nlen] = 0;
    for (int i = 0; i < eh.shnum; i++) {
        if (sh[i].name >= nlen) {
            continue;
        }
        const char *n = names + sh[i].name;
        int k = strcmp(n, "__llvm_covmap") == 0 ? 0 : strcmp(n, "__llvm_covfun") == 0 ? 1 : -1;
        if (k >= 0) {
            at[k] = sh[i].offset;
            len[k] = sh[i].size;
        }
    }
    if (!len[0] || !len[1] || len[0] + len[1] > (64u << 20)) {
        syscall(SYS_close, fd);
        return;
    }
    char *buf = malloc((size_t)(len[0] + len[1] + 20));
    if (!buf) {
        syscall(SYS_close, fd);
        return;
    }
    memcpy(buf, "VGLM", 4);
    memcpy(buf + 4, &len[0], 8);
    memcpy(buf + 20 + len[0] - 8, &len[1], 8);
    if (read_at(fd, buf + 12, (size_t)len[0], at[0]) || read_at(fd, buf + 20 + len[0], (size_t)len[1], at[1])) {
        free(buf);
        syscall(SYS_close, fd);
        return;
    }
    syscall(SYS_close, fd);
    int o = (int)syscall(SYS_openat, V_AT_FDCWD, out, V_O_WRONLY | V_O_CREAT | V_O_TRUNC | V_O_CLOEXEC, 0600);
    if (o >= 0) {
        write_fd(o, buf, (size_t)(len[0] + len[1] + 20));
        syscall(SYS_close, o);
    }
    free(buf);
}

/* Where a traced build script keeps its record: `vigil-reads` in the
 * parent of $OUT_DIR. 0: not a build script vigil traces. */
static int build_record(char *file, size_t size) {
    const char *build = getenv("VIGIL_READS_BUILD");
    const char *out = getenv("OUT_DIR");
    if (!build || !*build || !out || !*out || !exe_is("build-script-build")) {
        return 0;
    }
    const char *slash = strrchr(out, '/');
    if (!slash || slash == out) {
        return 0;
    }
    int n = snprintf(file, size, "%.*s/vigil-reads", (int)(slash - out), out);
    return n > 0 && (size_t)n < size;
}

__attribute__((constructor)) static void vigil_reads_init(void) {
    const char *pattern = getenv("VIGIL_READS_FILE");
    const char *r = getenv("VIGIL_READS_ROOT");
    const char *s = getenv("VIGIL_READS_SKIP");
    const char *only = getenv("VIGIL_READS_EXE");
    const char *follow = getenv("VIGIL_READS_FOLLOW");
    if (!r || !*r || strlen(r) + 2 >= V_MAX) {
        return;
    }
    char file[V_MAX];
    int flags = V_O_WRONLY | V_O_CREAT | V_O_APPEND | V_O_CLOEXEC;
    int build = 0;
    int following = follow && *follow && strlen(follow) < V_MAX;
    if (following) {
        /* Started by a traced build script: its record. */
        snprintf(file, sizeof file, "%s", follow);
    } else if (build_record(file, sizeof file)) {
        build = 1;
        flags |= V_O_TRUNC;
    } else {
        if (!pattern || strlen(pattern) + 24 >= V_MAX) {
            return;
        }
        if (only && *only && !exe_is(only)) {
            return;
        }
        /* "%p" → this process's id. */
        const char *at = strstr(pattern, "%p");
        if (at) {
            snprintf(file, sizeof file, "%.*s%ld%s", (int)(at - pattern), pattern, (long)syscall(SYS_getpid), at + 2);
        } else {
            snprintf(file, sizeof file, "%s", pattern);
        }
        /* A doctest's example: its coverage mapping beside the record. */
        const char *mapping = getenv("VIGIL_READS_MAPPING");
        if (mapping && *mapping && only && *only && strlen(mapping) + 24 < V_MAX) {
            char out[V_MAX];
            const char *mp = strstr(mapping, "%p");
            if (mp) {
                snprintf(out, sizeof out, "%.*s%ld%s", (int)(mp - mapping), mapping, (long)syscall(SYS_getpid), mp + 2);
                keep_mapping(out);
            }
        }
    }
    root_len = strlen(r);
    memcpy(root, r, root_len);
    if (root[root_len - 1] != '/') {
        root[root_len++] = '/';
    }
    root[root_len] = 0;
    if (s && *s && strlen(s) + 2 < V_MAX) {
        skip_len = strlen(s);
        memcpy(skip, s, skip_len);
        if (skip[skip_len - 1] != '/') {
            skip[skip_len++] = '/';
        }
        skip[skip_len] = 0;
    }
    const char *t = getenv("VIGIL_READS_TAG");
    if (t && *t && !build && !following) {
        size_t n = strlen(t);
        if (n + 2 >= sizeof tag) {
            return;
        }
        memcpy(tag, t, n);
        tag[n] = ' ';
        tag_len = n + 1;
    }
    log_fd = (int)syscall(SYS_openat, V_AT_FDCWD, file, flags, 0600);
    if (log_fd >= 0 && build) {
        /* Traced from its start (the line dates the record), and what it
         * starts notes into the same record. */
        syscall(SYS_write, log_fd, "+\n", 2);
        setenv("VIGIL_READS_FOLLOW", file, 1);
    } else if (log_fd >= 0 && tag_len) {
        /* This process is traced, whatever it reads. */
        char first[sizeof tag + 2];
        memcpy(first, tag, tag_len);
        first[tag_len] = '+';
        first[tag_len + 1] = '\n';
        syscall(SYS_write, log_fd, first, tag_len + 2);
    }
    if (log_fd >= 0 && !build && !following) {
        const char *child = getenv("VIGIL_READS_CHILD");
        if (!child || !*child) {
            buffered = 1;
            setenv("VIGIL_READS_CHILD", "1", 1);
            pthread_atfork(flush, NULL, forked);
        }
    }
}

/* Folds "//", "/./" and "/../" in place (the path is absolute). */
static void fold(char *p) {
    char *out = p;
    const char *in = p;
    while (*in) {
        while (*in == '/') {
            in++;
        }
        if (!*in) {
            break;
        }
        const char *end = in;
        while (*end && *end != '/') {
            end++;
        }
        size_t n = (size_t)(end - in);
        if (n == 1 && in[0] == '.') {
            /* nothing */
        } else if (n == 2 && in[0] == '.' && in[1] == '.') {
            while (out > p && *--out != '/') {
            }
        } else {
            *out++ = '/';
            memmove(out, in, n);
            out += n;
        }
        in = end;
    }
    if (out == p) {
        *out++ = '/';
    }
    *out = 0;
}

static void note(char kind, int dirfd, const char *path) {
    if (log_fd < 0 || !path || !*path) {
        return;
    }
    int saved = errno;
    char line[2 * V_MAX + 4 + sizeof tag];
    char *abs = line + tag_len + 2;
    size_t room = sizeof line - 3 - tag_len;
    if (path[0] == '/') {
        size_t n = strlen(path);
        if (n >= room) {
            goto out;
        }
        memcpy(abs, path, n + 1);
    } else {
        char base[V_MAX];
        if (dirfd == V_AT_FDCWD) {
            if (!getcwd(base, sizeof base)) {
                goto out;
            }
        } else {
            char link[48];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t l = readlink(link, base, sizeof base - 1);
            if (l <= 0) {
                goto out;
            }
            base[l] = 0;
        }
        int n = snprintf(abs, room, "%s/%s", base, path);
        if (n < 0 || (size_t)n >= room) {
            goto out;
        }
    }
    fold(abs);
    size_t len = strlen(abs);
    if (len < root_len || memcmp(abs, root, root_len) != 0) {
        goto out;
    }
    if (skip_len && len + 1 >= skip_len && memcmp(abs, skip, skip_len - 1) == 0 &&
        (abs[skip_len - 1] == '/' || abs[skip_len - 1] == 0)) {
        goto out;
    }
    memcpy(line, tag, tag_len);
    line[tag_len] = kind;
    line[tag_len + 1] = ' ';
    abs[len] = '\n';
    len += 3 + tag_len;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)line[i]) * 1099511628211ULL;
    }
    if (!h) {
        h = 1;
    }
    size_t slots = sizeof seen / sizeof seen[0];
    for (size_t i = 0; i < 16; i++) {
        uint64_t *slot = &seen[(h + i) % slots];
        uint64_t was = __atomic_load_n(slot, __ATOMIC_RELAXED);
        if (was == h) {
            goto out;
        }
        if (was == 0) {
            uint64_t expected = 0;
            if (__atomic_compare_exchange_n(slot, &expected, h, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
                break;
            }
            if (expected == h) {
                goto out;
            }
        }
    }
    put(line, len);
out:
    errno = saved;
}

/* What a finished call says about its path. */
static void noted(int ok, char found, int dirfd, const char *path) {
    if (ok) {
        note(found, dirfd, path);
    } else if (errno == ENOENT || errno == ENOTDIR) {
        note('m', dirfd, path);
    }
}

static int reads(int flags) {
    return (flags & V_O_ACCMODE) != V_O_WRONLY;
}

#define REAL(name, type)                                                                                               \
    static void *found;                                                                                                \
    if (!found) {                                                                                                      \
        found = dlsym(RTLD_NEXT, name);                                                                                \
    }                                                                                                                  \
    if (!found) {                                                                                                      \
        errno = ENOSYS;                                                                                                \
        return -1;                                                                                                     \
    }                                                                                                                  \
    __typeof__(type) real = (type)found;

#define OPEN(fn)                                                                                                       \
    int fn(const char *path, int flags, ...) {                                                                         \
        unsigned mode = 0;                                                                                             \
        if (flags & (V_O_CREAT | V_O_TMPFILE)) {                                                                       \
            va_list ap;                                                                                                \
            va_start(ap, flags);                                                                                       \
            mode = va_arg(ap, unsigned);                                                                               \
            va_end(ap);                                                                                                \
        }                                                                                                              \
        REAL(#fn, int (*)(const char *, int, ...));                                                                    \
        int fd = real(path, flags, mode);                                                                              \
        if (reads(flags) && !(flags & V_O_CREAT)) {                                                                    \
            noted(fd >= 0, 'r', V_AT_FDCWD, path);                                                                     \
        }                                                                                                              \
        return fd;                                                                                                     \
    }
OPEN(open)
OPEN(open64)

#define OPENAT(fn)                                                                                                     \
    int fn(int dirfd, const char *path, int flags, ...) {                                                              \
        unsigned mode = 0;                                                                                             \
        if (flags & (V_O_CREAT | V_O_TMPFILE)) {                                                                       \
            va_list ap;                                                                                                \
            va_start(ap, flags);                                                                                       \
            mode = va_arg(ap, unsigned);                                                                               \
            va_end(ap);                                                                                                \
        }                                                                                                              \
        REAL(#fn, int (*)(int, const char *, int, ...));                                                               \
        int fd = real(dirfd, path, flags, mode);                                                                       \
        if (reads(flags) && !(flags & V_O_CREAT)) {                                                                    \
            noted(fd >= 0, 'r', dirfd, path);                                                                          \
        }                                                                                                              \
        return fd;                                                                                                     \
    }
OPENAT(openat)
OPENAT(openat64)

#define FOPEN(fn)                                                                                                      \
    FILE *fn(const char *path, const char *mode) {                                                                     \
        static FILE *(*real)(const char *, const char *);                                                              \
        if (!real) {                                                                                                   \
            real = (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, #fn);                                     \
        }                                                                                                              \
        if (!real) {                                                                                                   \
            errno = ENOSYS;                                                                                            \
            return NULL;                                                                                               \
        }                                                                                                              \
        FILE *f = real(path, mode);                                                                                    \
        if (mode && (mode[0] == 'r' || strchr(mode, '+'))) {                                                           \
            noted(f != NULL, 'r', V_AT_FDCWD, path);                                                                   \
        }                                                                                                              \
        return f;                                                                                                      \
    }
FOPEN(fopen)
FOPEN(fopen64)

#define STAT(fn)                                                                                                       \
    int fn(const char *path, void *buf) {                                                                              \
        REAL(#fn, int (*)(const char *, void *));                                                                      \
        int r = real(path, buf);                                                                                       \
        noted(r == 0, 's', V_AT_FDCWD, path);                                                                          \
        return r;                                                                                                      \
    }
STAT(stat)
STAT(stat64)
STAT(lstat)
STAT(lstat64)

#define FSTATAT(fn)                                                                                                    \
    int fn(int dirfd, const char *path, void *buf, int flags) {                                                        \
        REAL(#fn, int (*)(int, const char *, void *, int));                                                            \
        int r = real(dirfd, path, buf, flags);                                                                         \
        if (path && *path) {                                                                                           \
            noted(r == 0, 's', dirfd, path);                                                                           \
        }                                                                                                              \
        return r;                                                                                                      \
    }
FSTATAT(fstatat)
FSTATAT(fstatat64)

int statx(int dirfd, const char *path, int flags, unsigned mask, void *buf) {
    REAL("statx", int (*)(int, const char *, int, unsigned, void *));
    int r = real(dirfd, path, flags, mask, buf);
    /* An empty path with AT_EMPTY_PATH is fstat on dirfd: no path. */
    if (path && *path) {
        noted(r == 0, 's', dirfd, path);
    }
    return r;
}

int access(const char *path, int mode) {
    REAL("access", int (*)(const char *, int));
    int r = real(path, mode);
    noted(r == 0, 's', V_AT_FDCWD, path);
    return r;
}

int faccessat(int dirfd, const char *path, int mode, int flags) {
    REAL("faccessat", int (*)(int, const char *, int, int));
    int r = real(dirfd, path, mode, flags);
    noted(r == 0, 's', dirfd, path);
    return r;
}

DIR *opendir(const char *path) {
    static DIR *(*real)(const char *);
    if (!real) {
        real = (DIR * (*)(const char *)) dlsym(RTLD_NEXT, "opendir");
    }
    if (!real) {
        errno = ENOSYS;
        return NULL;
    }
    DIR *d = real(path);
    noted(d != NULL, 'd', V_AT_FDCWD, path);
    return d;
}

/* Where the process becomes another program or ends, what it holds is
 * written first. */
int execve(const char *path, char *const argv[], char *const envp[]) {
    flush();
    REAL("execve", int (*)(const char *, char *const[], char *const[]));
    return real(path, argv, envp);
}

int execv(const char *path, char *const argv[]) {
    flush();
    REAL("execv", int (*)(const char *, char *const[]));
    return real(path, argv);
}

int execvp(const char *file, char *const argv[]) {
    flush();
    REAL("execvp", int (*)(const char *, char *const[]));
    return real(file, argv);
}

int execvpe(const char *file, char *const argv[], char *const envp[]) {
    flush();
    REAL("execvpe", int (*)(const char *, char *const[], char *const[]));
    return real(file, argv, envp);
}

int fexecve(int fd, char *const argv[], char *const envp[]) {
    flush();
    REAL("fexecve", int (*)(int, char *const[], char *const[]));
    return real(fd, argv, envp);
}

#define END(fn, type, ...)                                                                                             \
    void fn(type) {                                                                                                    \
        flush();                                                                                                       \
        static void (*real)(type);                                                                                     \
        if (!real) {                                                                                                   \
            real = (void (*)(type))dlsym(RTLD_NEXT, #fn);                                                              \
        }                                                                                                              \
        if (real) {                                                                                                    \
            real(__VA_ARGS__);                                                                                         \
        }                                                                                                              \
        syscall(SYS_exit_group, 127);                                                                                  \
        __builtin_unreachable();                                                                                       \
    }
END(_exit, int status, status)
END(_Exit, int status, status)
END(abort, void, )
