/*
 * The hello-world of bench/apps/hello.py as a C FastCGI responder on Debian's libfcgi: the cost
 * of a FastCGI server with no interpreter at all, the floor bench/perf.py compares with.
 *
 *     gcc -O2 -o hello hello.c -lfcgi
 *     ./hello ADDRESS WORKERS      ADDRESS: a socket path, or HOST:PORT
 *
 * The master opens the socket (FCGX_OpenSocket), forks WORKERS processes that share it, each
 * accepting and answering one request at a time (FCGX_Accept_r, then FCGX_Finish_r), and waits.
 * libfcgi honours FCGI_KEEP_CONN: a worker whose connection is kept reads its next request from
 * that connection and accepts no other meanwhile.
 * SIGTERM or SIGINT: the master sends SIGTERM to its workers, waits for them and exits.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcgiapp.h>

/* The bytes nagare's publisher sends for bench/apps/hello.py: the same head, the same 13-byte body. */
static const char ANSWER[] =
    "Status: 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, world\n";

static int serve(int sock) {
    FCGX_Request request;
    if (FCGX_InitRequest(&request, sock, 0) != 0) {
        fprintf(stderr, "hello: FCGX_InitRequest failed\n");
        return 1;
    }
    while (FCGX_Accept_r(&request) >= 0) {
        FCGX_PutStr(ANSWER, (int)sizeof(ANSWER) - 1, request.out);
        FCGX_Finish_r(&request);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: %s ADDRESS WORKERS (ADDRESS: a socket path or HOST:PORT)\n", argv[0]);
        return 2;
    }
    int workers = atoi(argv[2]);
    if (FCGX_Init() != 0) {
        fprintf(stderr, "hello: FCGX_Init failed\n");
        return 1;
    }
    int sock = FCGX_OpenSocket(argv[1], 1024);
    if (sock < 0) {
        fprintf(stderr, "hello: cannot listen on %s\n", argv[1]);
        return 1;
    }
    /* The master takes its signals with sigwaitinfo(), none by a handler: no race between a
     * flag and a blocking wait. */
    sigset_t signals, previous;
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGCHLD);
    sigprocmask(SIG_BLOCK, &signals, &previous);
    pid_t *pids = calloc((size_t)workers, sizeof(pid_t));
    for (int i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("hello: fork");
            return 1;
        }
        if (pid == 0) {
            sigprocmask(SIG_SETMASK, &previous, NULL);
            prctl(PR_SET_PDEATHSIG, SIGTERM); /* no worker outlives a killed master */
            return serve(sock);
        }
        pids[i] = pid;
    }
    int alive = workers;
    while (alive > 0) {
        siginfo_t info;
        if (sigwaitinfo(&signals, &info) < 0)
            continue; /* EINTR */
        if (info.si_signo == SIGCHLD) {
            pid_t pid;
            while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
                for (int i = 0; i < workers; i++)
                    if (pids[i] == pid)
                        pids[i] = 0;
                alive--;
            }
        } else {
            for (int i = 0; i < workers; i++)
                if (pids[i] > 0)
                    kill(pids[i], SIGTERM);
        }
    }
    free(pids);
    return 0;
}
