/* lifecycle.c: fork, passed descriptors and read-only peers against the promises of mba.
 * Each mode prints "ok ..." lines or "FAIL ..." and exits non-zero on failure. Usage:
 *   lifecycle fork-excl URI N       exclusive handle, fork: the child's inherited handle refuses to
 *                                   append (MBA_ERR_WRONG_PROCESS), freeing it releases nothing of the
 *                                   parent's, a fresh exclusive attach in the child is BUSY; the parent's
 *                                   N appends all land
 *   lifecycle fork-shared URI N     shared handle, fork: the inherited handle refuses; the child attaches
 *                                   anew and appends N tagged values while the parent appends N: each once
 *   lifecycle idle-child URI MODE   MODE excl or shared: fork a child that only sleeps, print
 *                                   "ready CHILD_PID" and append forever (the test SIGKILLs this process)
 *   lifecycle scm URI               create an exclusive array, pass its descriptor over a Unix socket to a
 *                                   fresh process running as nobody, which attaches it read-write
 *                                   (no path permission needed), writes 42 in place and frees it; then
 *                                   the lease is still the parent's
 *   lifecycle scm-recv URI SOCKFD   the receiving side of scm
 *   lifecycle msync URI             attach a second handle to a file array at capacity 4, let the first
 *                                   append 1 MiB, msync through the second; print its data and header
 *                                   addresses and the length it made durable (tests/c/msync_spy.c logs
 *                                   the ranges)
 *   lifecycle pin URI               become nobody, open the store read-only and hold read locks over all
 *                                   of it (OFD, POSIX and flock), print "ready", sleep */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mba.h"

static int fail(const char *what, mba_status s) {
    printf("FAIL %s: %s (%s)\n", what, mba_status_str(s), mba_last_error());
    return 1;
}
#define EXPECT(call, want, what)                                   \
    do {                                                           \
        mba_status s_ = (call);                                    \
        if (s_ != (want)) return fail(what, s_);                   \
    } while (0)

static int wait_child(pid_t pid) {
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int child_of_excl(mba_array *inherited, const char *uri) {
    uint64_t v = 1ull << 63;
    mba_array *b = NULL;
    EXPECT(mba_append(inherited, &v), MBA_ERR_WRONG_PROCESS, "child append through the inherited handle");
    if (!strstr(mba_last_error(), "fork")) return fail("message names fork", 0);
    EXPECT(mba_extend(inherited, &v, 1), MBA_ERR_WRONG_PROCESS, "child extend through the inherited handle");
    EXPECT(mba_pop(inherited, &v), MBA_ERR_WRONG_PROCESS, "child pop through the inherited handle");
    EXPECT(mba_get(inherited, 0, &v), MBA_OK, "child read through the inherited handle");
    EXPECT(mba_free(inherited), MBA_OK, "child free of the inherited handle");
    EXPECT(mba_attach(uri, MBA_EXCLUSIVE, &b), MBA_ERR_BUSY, "child exclusive attach while the parent holds it");
    EXPECT(mba_attach(uri, 0, &b), MBA_OK, "child shared attach");
    EXPECT(mba_append(b, &v), MBA_ERR_BUSY, "child shared append while the parent holds the lease");
    mba_free(b);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1], *uri = argv[2];
    mba_array *a = NULL, *b = NULL;
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(mode, "fork-excl")) {
        uint64_t n = strtoull(argv[3], NULL, 10), v = 0;
        EXPECT(mba_create(uri, MBA_U64, 0, MBA_EXCLUSIVE, &a), MBA_OK, "create");
        EXPECT(mba_append(a, &v), MBA_OK, "first append");
        pid_t pid = fork();
        if (pid == 0) _exit(child_of_excl(a, uri));
        for (v = 1; v < n; v++) EXPECT(mba_append(a, &v), MBA_OK, "parent append");
        int rc = wait_child(pid);
        if (rc != 0) return printf("FAIL child exited %d\n", rc), 1;
        /* The child freed its copy of the handle: the lease must still be ours. */
        EXPECT(mba_attach(uri, MBA_EXCLUSIVE, &b), MBA_ERR_BUSY, "exclusive attach after the child's free");
        for (; v < 2 * n; v++) EXPECT(mba_append(a, &v), MBA_OK, "parent append after the child");
        if (mba_len(a) != 2 * n) return printf("FAIL len %" PRIu64 " != %" PRIu64 "\n", mba_len(a), 2 * n), 1;
        const uint64_t *d = mba_data(a);
        for (uint64_t i = 0; i < 2 * n; i++)
            if (d[i] != i) return printf("FAIL element %" PRIu64 " is %" PRIu64 "\n", i, d[i]), 1;
        printf("ok fork-excl len=%" PRIu64 "\n", mba_len(a));
    } else if (!strcmp(mode, "fork-shared")) {
        uint64_t n = strtoull(argv[3], NULL, 10), v;
        EXPECT(mba_create(uri, MBA_U64, 0, 0, &a), MBA_OK, "create");
        pid_t pid = fork();
        if (pid == 0) {
            v = 7;
            EXPECT(mba_append(a, &v), MBA_ERR_WRONG_PROCESS, "child append through the inherited handle");
            EXPECT(mba_free(a), MBA_OK, "child free");
            EXPECT(mba_attach(uri, 0, &b), MBA_OK, "child attach");
            for (uint64_t i = 0; i < n; i++) {
                v = 1ull << 32 | i;
                EXPECT(mba_append(b, &v), MBA_OK, "child append");
            }
            mba_free(b);
            _exit(0);
        }
        for (uint64_t i = 0; i < n; i++) {
            v = i;
            EXPECT(mba_append(a, &v), MBA_OK, "parent append");
        }
        int rc = wait_child(pid);
        if (rc != 0) return printf("FAIL child exited %d\n", rc), 1;
        uint64_t next[2] = {0, 0}, len = mba_len(a);
        const uint64_t *d = mba_data(a);
        for (uint64_t i = 0; i < len; i++) {
            uint64_t who = d[i] >> 32, seq = d[i] & 0xffffffffu;
            if (who > 1 || seq != next[who]) return printf("FAIL element %" PRIu64 " = %" PRIx64 "\n", i, d[i]), 1;
            next[who]++;
        }
        if (next[0] != n || next[1] != n) return printf("FAIL counts %" PRIu64 " %" PRIu64 "\n", next[0], next[1]), 1;
        printf("ok fork-shared len=%" PRIu64 "\n", len);
    } else if (!strcmp(mode, "idle-child")) {
        int excl = !strcmp(argv[3], "excl");
        EXPECT(mba_attach(uri, excl ? MBA_EXCLUSIVE : 0, &a), MBA_OK, "attach");
        pid_t pid = fork();
        if (pid == 0) {
            /* An idle child: it touches nothing, and lives on after its parent is killed. */
            for (int i = 0; i < 600; i++) {
                if (getppid() == 1) _exit(0);
                usleep(100000);
            }
            _exit(0);
        }
        printf("ready %d\n", (int)pid);
        for (uint64_t i = 0;; i++) {
            uint64_t v = excl ? mba_len(a) : (1ull << 32 | i);
            EXPECT(mba_append(a, &v), MBA_OK, "append");
        }
    } else if (!strcmp(mode, "scm")) {
        int sv[2];
        uint64_t v = 1;
        EXPECT(mba_create(uri, MBA_U64, 0, MBA_EXCLUSIVE, &a), MBA_OK, "create");
        EXPECT(mba_append(a, &v), MBA_OK, "append");
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return printf("FAIL socketpair\n"), 1;
        pid_t pid = fork();
        if (pid == 0) {
            close(sv[0]);
            char fdarg[16];
            snprintf(fdarg, sizeof fdarg, "%d", sv[1]);
            execl("/proc/self/exe", argv[0], "scm-recv", uri, fdarg, (char *)NULL);
            _exit(127);
        }
        close(sv[1]);
        char byte = 'x';
        char ctl[CMSG_SPACE(sizeof(int))];
        memset(ctl, 0, sizeof ctl);
        struct iovec iov = {&byte, 1};
        struct msghdr m = {0};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int fd = mba_fd(a);
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
        if (sendmsg(sv[0], &m, 0) != 1) return printf("FAIL sendmsg\n"), 1;
        int rc = wait_child(pid);
        if (rc != 0) return printf("FAIL receiver exited %d\n", rc), 1;
        EXPECT(mba_get(a, 0, &v), MBA_OK, "get the receiver's element");
        if (v != 42 || mba_len(a) != 1) return printf("FAIL receiver wrote %" PRIu64 "\n", v), 1;
        EXPECT(mba_attach(uri, MBA_EXCLUSIVE, &b), MBA_ERR_BUSY, "exclusive attach after the receiver's free");
        v = 43;
        EXPECT(mba_append(a, &v), MBA_OK, "append after the receiver's free");
        printf("ok scm len=%" PRIu64 "\n", mba_len(a));
    } else if (!strcmp(mode, "scm-recv")) {
        int sock = atoi(argv[3]), fd = -1;
        char byte;
        char ctl[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {&byte, 1};
        struct msghdr m = {0};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        if (setgid(65534) != 0 || setuid(65534) != 0) return printf("FAIL setuid\n"), 1;
        if (recvmsg(sock, &m, 0) != 1) return printf("FAIL recvmsg\n"), 1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        if (!c || c->cmsg_type != SCM_RIGHTS) return printf("FAIL no descriptor\n"), 1;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        /* The path is the owner's only (0600): attaching by name is refused, the descriptor works. */
        EXPECT(mba_attach(uri, MBA_READ_ONLY, &a), MBA_ERR_PERMISSION, "attach by name as nobody");
        EXPECT(mba_attach_fd(fd, MBA_EXCLUSIVE, &a), MBA_ERR_BUSY, "exclusive attach_fd while the sender holds it");
        EXPECT(mba_attach_fd(fd, 0, &a), MBA_OK, "attach_fd read-write as nobody");
        uint64_t v = 42;
        /* The sender holds the lease, and this handle respects it... */
        EXPECT(mba_append(a, &v), MBA_ERR_BUSY, "shared append while the sender holds the lease");
        /* ...while the descriptor's write access lets it write in place (element 0 was 1). */
        EXPECT(mba_set(a, 0, &v), MBA_OK, "write in place through the descriptor");
        EXPECT(mba_free(a), MBA_OK, "free");
        a = NULL;
        close(fd);
        printf("ok scm-recv\n");
    } else if (!strcmp(mode, "msync")) {
        static uint8_t block[1 << 20];
        EXPECT(mba_create(uri, MBA_U8, 4, 0, &a), MBA_OK, "create");
        EXPECT(mba_attach(uri, 0, &b), MBA_OK, "attach");
        EXPECT(mba_extend(a, block, sizeof block), MBA_OK, "extend");
        EXPECT(mba_msync(b, MBA_SYNC), MBA_OK, "msync");
        printf("base=%lu data=%lu len=%" PRIu64 "\n", (unsigned long)mba_header_ptr(b),
               (unsigned long)mba_data(b), mba_len(b));
        mba_free(b);
    } else if (!strcmp(mode, "pin")) {
        if (setgid(65534) != 0 || setuid(65534) != 0) return printf("FAIL setuid\n"), 1;
        int fd = open(uri, O_RDONLY);
        if (fd < 0) return printf("FAIL open %s: %s\n", uri, strerror(errno)), 1;
        struct flock fl = {0};
        fl.l_type = F_RDLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = 0;
        fl.l_len = 0; /* to the end of all possible offsets */
        if (fcntl(fd, F_OFD_SETLK, &fl) != 0) return printf("FAIL ofd lock: %s\n", strerror(errno)), 1;
        int fd2 = open(uri, O_RDONLY);
        fl.l_pid = 0;
        if (fd2 < 0 || fcntl(fd2, F_SETLK, &fl) != 0) return printf("FAIL posix lock: %s\n", strerror(errno)), 1;
        if (flock(fd, LOCK_SH) != 0) return printf("FAIL flock: %s\n", strerror(errno)), 1;
        printf("ready\n");
        for (int i = 0; i < 1200; i++) {
            if (getppid() == 1) break;
            usleep(50000);
        }
        return 0;
    } else {
        return 2;
    }
    mba_free(a);
    return 0;
}
