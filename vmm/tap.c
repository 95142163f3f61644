/* Opening a host TAP device (vmm/tap.h): the name checked, /dev/net/tun
 * opened, the TAP attached (or created) with TUNSETIFF, its virtio-net
 * header size and offloads, its MTU, and up when pvhboot created it. Every
 * failure is one line saying what to do. Runs before the sandbox: the run
 * loop itself only reads, writes and sets offloads (TUNSETOFFLOAD). */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio/net.h"

#define DEFAULT_TUN "/dev/net/tun"

static int check_name(const char *name, struct pvh_error *err)
{
    switch (pvh_tap_name_check(name)) {
    case PVH_TAP_NAME_BAD_LENGTH:
        return pvh_fail(err, PVH_E_INPUT, "tap \"%.40s\": a name of 1 to %d characters", name, PVH_TAP_NAME_MAX);
    case PVH_TAP_NAME_BAD_CHAR:
        return pvh_fail(err, PVH_E_INPUT, "tap \"%s\": printable characters other than / : %% and spaces only",
                        name);
    default:
        return 0;
    }
}

static int open_tun(const char *path, struct pvh_error *err)
{
    int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    int e = errno;
    if (e == EACCES || e == EPERM)
        return pvh_fail(err, PVH_E_INPUT,
                        "%s: permission denied — run as root or create the TAP with ip tuntap and give it to your user",
                        path);
    if (e == ENOENT || e == ENODEV || e == ENXIO)
        return pvh_fail(err, PVH_E_INPUT, "%s: %s — load the tun module (modprobe tun)", path, strerror(e));
    return pvh_fail(err, PVH_E_SYSTEM, "%s: %s", path, strerror(e));
}

static int attach_failed(const struct pvh_tap *t, int e, bool existed, struct pvh_error *err)
{
    const char *n = t->name;
    if ((e == EPERM || e == EACCES) && existed)
        return pvh_fail(err, PVH_E_INPUT, "tap %s: permission denied — it is not yours: run as root, or give it to "
                        "your user (ip tuntap del %s mode tap; ip tuntap add %s mode tap user $USER)", n, n, n);
    if (e == EPERM || e == EACCES)
        return pvh_fail(err, PVH_E_INPUT, "tap %s: no such TAP, and creating one needs root (CAP_NET_ADMIN) — run as "
                        "root or create it with ip tuntap add %s mode tap user $USER", n, n);
    if (e == EBUSY)
        return pvh_fail(err, PVH_E_INPUT, "tap %s: in use by another process (another VM?)", n);
    if (e == EINVAL)
        return pvh_fail(err, PVH_E_INPUT, "%s is not a single-queue TAP device (a TUN, a multi-queue TAP or another "
                        "interface?); pvhboot wants one made by ip tuntap add %s mode tap", n, n);
    return pvh_fail(err, PVH_E_SYSTEM, "tap %s: TUNSETIFF: %s", n, strerror(e));
}

/* TUNSETIFF: IFF_TAP without packet information, with virtio-net headers
 * when the kernel has them; then their size, 12 (virtio_net_hdr_v1). */
static int attach(struct pvh_tap *t, bool existed, struct pvh_error *err)
{
    unsigned features = 0;
    if (ioctl(t->fd, TUNGETFEATURES, &features) != 0)
        features = 0;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, t->name, strlen(t->name));
    ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | (features & IFF_VNET_HDR ? IFF_VNET_HDR : 0));
    if (ioctl(t->fd, TUNSETIFF, &ifr) != 0)
        return attach_failed(t, errno, existed, err);
    t->vnet_hdr = (features & IFF_VNET_HDR) != 0;
    int size = VIRTIO_NET_HDR_BYTES;
    if (t->vnet_hdr && ioctl(t->fd, TUNSETVNETHDRSZ, &size) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "tap %s: TUNSETVNETHDRSZ %d: %s", t->name, size, strerror(errno));
    return 0;
}

/* The offloads the TAP accepts, most first; left at none until a driver
 * takes them (vmm/virtio/net.c sets them when the guest's driver starts). */
static unsigned probe_offloads(const struct pvh_tap *t)
{
    static const unsigned tries[] = {
        PVH_TUN_F_CSUM | PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6 | PVH_TUN_F_TSO_ECN | PVH_TUN_F_UFO,
        PVH_TUN_F_CSUM | PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6 | PVH_TUN_F_TSO_ECN,
        PVH_TUN_F_CSUM | PVH_TUN_F_TSO4 | PVH_TUN_F_TSO6,
        PVH_TUN_F_CSUM,
    };
    if (!t->vnet_hdr)
        return 0;
    unsigned got = 0;
    for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]) && !got; i++)
        if (ioctl(t->fd, TUNSETOFFLOAD, (unsigned long)tries[i]) == 0)
            got = tries[i];
    ioctl(t->fd, TUNSETOFFLOAD, 0ul);
    return got;
}

/* Interface requests through a socket (any family takes them). */
static int ifreq_call(const struct pvh_tap *t, unsigned long req, struct ifreq *ifr)
{
    int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    memset(ifr->ifr_name, 0, sizeof(ifr->ifr_name));
    memcpy(ifr->ifr_name, t->name, strlen(t->name));
    int rc = ioctl(s, req, ifr);
    int e = errno;
    close(s);
    errno = e;
    return rc;
}

static int set_mtu(struct pvh_tap *t, unsigned want, struct pvh_error *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ifreq_call(t, SIOCGIFMTU, &ifr) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "tap %s: SIOCGIFMTU: %s", t->name, strerror(errno));
    t->mtu = (unsigned)ifr.ifr_mtu;
    if (!want || want == t->mtu)
        return 0;
    ifr.ifr_mtu = (int)want;
    if (ifreq_call(t, SIOCSIFMTU, &ifr) == 0) {
        t->mtu = want;
        return 0;
    }
    int e = errno;
    if (e == EPERM || e == EACCES)
        return pvh_fail(err, PVH_E_INPUT, "tap %s: its MTU is %u, and setting it to %u needs root — run as root or "
                        "set it with ip link set %s mtu %u", t->name, t->mtu, want, t->name, want);
    return pvh_fail(err, PVH_E_INPUT, "tap %s: the kernel refuses an MTU of %u: %s", t->name, want, strerror(e));
}

/* A TAP pvhboot created is brought up (a new interface is down). */
static int bring_up(struct pvh_tap *t, struct pvh_error *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ifreq_call(t, SIOCGIFFLAGS, &ifr) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "tap %s: SIOCGIFFLAGS: %s", t->name, strerror(errno));
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    if (ifreq_call(t, SIOCSIFFLAGS, &ifr) != 0)
        return pvh_fail(err, PVH_E_SYSTEM, "tap %s: cannot bring it up: %s", t->name, strerror(errno));
    return 0;
}

int pvh_tap_open(struct pvh_tap *t, const char *name, unsigned mtu, const char *tun_path, struct pvh_error *err)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (check_name(name, err))
        return -1;
    memcpy(t->name, name, strlen(name) + 1);
    bool existed = if_nametoindex(name) != 0;
    if ((t->fd = open_tun(tun_path ? tun_path : DEFAULT_TUN, err)) < 0 || attach(t, existed, err)) {
        pvh_tap_close(t);
        return -1;
    }
    t->created = !existed;
    t->offloads = probe_offloads(t);
    if (set_mtu(t, mtu, err) || (t->created && bring_up(t, err))) {
        pvh_tap_close(t);
        return -1;
    }
    return 0;
}

void pvh_tap_close(struct pvh_tap *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}
