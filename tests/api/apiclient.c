/* A minimal client for the API socket, static so the emulated machine with
 * KVM can run a hundred at once (tests/run/api.t's concurrency; its
 * getting-started walk uses Debian's curl): sends one request and prints
 * "STATUS BODY" on one line. Test-only: it trusts the server's framing
 * (Content-Length) and reads until the connection is closed or the body
 * is complete.
 *   apiclient SOCK METHOD PATH [BODY]
 *   apiclient SOCK --wait          until the socket answers, at most 30 s
 *   apiclient SOCK --idle SECONDS  connects, sends nothing, holds it SECONDS
 *   apiclient SOCK --drip PATH     GET PATH one byte a second; prints how many
 *                                  bytes went out and "STATUS BODY" (0: the
 *                                  server closed the connection unanswered) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int dial(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Reads the response until the server closes; prints "STATUS BODY". */
static void print_response(int fd)
{
    static char resp[1 << 20];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(resp) - 1 && (r = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    int status = 0;
    sscanf(resp, "HTTP/1.1 %d", &status);
    char *b = strstr(resp, "\r\n\r\n");
    printf("%d %s\n", status, b ? b + 4 : "");
}

static int drip(int fd, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    int sent = 0;
    while (sent < n && send(fd, req + sent, 1, MSG_NOSIGNAL) == 1) {
        sent++;
        if (sent < n)
            sleep(1);
    }
    printf("sent %d of %d bytes, then: ", sent, n);
    print_response(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[2], "--wait")) {
        for (int i = 0; i < 300; i++, usleep(100000)) {
            int fd = dial(argv[1]);
            if (fd >= 0)
                return close(fd), 0;
        }
        return 1;
    }
    if (argc < 4 || argc > 5)
        return fprintf(stderr, "usage: apiclient SOCK METHOD PATH [BODY] | SOCK --wait | SOCK --idle S | SOCK --drip PATH\n"), 2;
    int fd = dial(argv[1]);
    if (fd < 0)
        return perror(argv[1]), 1;
    if (!strcmp(argv[2], "--idle"))
        return sleep((unsigned)atoi(argv[3])), close(fd), 0;
    if (!strcmp(argv[2], "--drip"))
        return drip(fd, argv[3]);
    const char *body = argc == 5 ? argv[4] : "";
    char req[65536];
    int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", argv[2], argv[3],
                     strlen(body), body);
    if (n < 0 || n >= (int)sizeof(req) || write(fd, req, (size_t)n) != n)
        return perror("write"), 1;
    print_response(fd);
    return 0;
}
