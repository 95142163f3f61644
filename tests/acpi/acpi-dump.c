/* Test helper for tests/acpi/iasl.t: builds the ACPI tables for N vCPUs and
 * D virtio-mmio devices (placed as the planner places them) at 0xE0000 and
 * writes each one to DIR/<signature>.dat for `iasl -d`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pvhboot/acpi.h"
#include "pvhboot/bytes.h"

static int dump(const char *dir, const char *name, const uint8_t *p, size_t len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: acpi-dump NCPUS NDEVICES DIR\n");
        return 2;
    }
    static uint8_t buf[16384];
    static struct pvh_mmio_device dev[PVH_MAX_VIRTIO_DEVICES];
    size_t ndev = (size_t)atoi(argv[2]);
    for (size_t i = 0; i < ndev && i < PVH_MAX_VIRTIO_DEVICES; i++)
        dev[i] = (struct pvh_mmio_device){PVH_VIRTIO_ID_BLOCK, PVH_VIRTIO_MMIO_BASE + i * PVH_VIRTIO_MMIO_STRIDE,
                                          PVH_VIRTIO_MMIO_STRIDE, pvh_layout_virtio_gsi(i)};
    struct pvh_acpi_config cfg = {.ncpus = (unsigned)atoi(argv[1]), .ndevices = ndev, .devices = dev};
    const char *dir = argv[3];
    size_t used;
    uint64_t rsdp;
    struct pvh_error err;
    const uint32_t base = 0xE0000;
    if (pvh_acpi_build(&cfg, base, buf, sizeof(buf), &used, &rsdp, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    int rc = dump(dir, "rsdp", buf, 36);
    /* walk every table the RSDT points to, and the FADT's FACS and DSDT */
    const uint8_t *rsdt = buf + (pvh_le32(buf + 16) - base);
    rc |= dump(dir, "rsdt", rsdt, pvh_le32(rsdt + 4));
    const uint8_t *xsdt = buf + (buf[24] | buf[25] << 8 | buf[26] << 16 | (uint32_t)buf[27] << 24) - base;
    rc |= dump(dir, "xsdt", xsdt, pvh_le32(xsdt + 4));
    for (uint32_t off = 36; off < pvh_le32(rsdt + 4); off += 4) {
        const uint8_t *t = buf + (pvh_le32(rsdt + off) - base);
        char name[5] = {0};
        memcpy(name, t, 4);
        rc |= dump(dir, name, t, pvh_le32(t + 4));
        if (memcmp(name, "FACP", 4) == 0) {
            const uint8_t *facs = buf + (pvh_le32(t + 36) - base), *dsdt = buf + (pvh_le32(t + 40) - base);
            rc |= dump(dir, "FACS", facs, pvh_le32(facs + 4));
            rc |= dump(dir, "DSDT", dsdt, pvh_le32(dsdt + 4));
        }
    }
    return rc;
}
