/* A persistent TAP with an owner, for tests in the machine with KVM (whose
 * busybox tunctl cannot set one, and which has no iproute2): what
 * `ip tuntap add NAME mode tap user UID` does. Static, built by the suite.
 *   tapctl add NAME UID    create NAME, persistent, owned by UID
 *   tapctl del NAME        delete it */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int fail(const char *what, const char *name)
{
    fprintf(stderr, "tapctl: %s %s: %s\n", what, name, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "del")) || (!strcmp(argv[1], "add") && argc != 4) ||
        strlen(argv[2]) >= IFNAMSIZ) {
        fprintf(stderr, "usage: tapctl add NAME UID | tapctl del NAME\n");
        return 2;
    }
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return fail("open", "/dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, argv[2]);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (ioctl(fd, TUNSETIFF, &ifr) != 0)
        return fail("TUNSETIFF", argv[2]);
    bool add = !strcmp(argv[1], "add");
    if (add && ioctl(fd, TUNSETOWNER, strtoul(argv[3], NULL, 10)) != 0)
        return fail("TUNSETOWNER", argv[2]);
    if (ioctl(fd, TUNSETPERSIST, add ? 1ul : 0ul) != 0)
        return fail("TUNSETPERSIST", argv[2]);
    close(fd);
    return 0;
}
