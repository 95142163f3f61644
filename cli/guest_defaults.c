/* The command line a Linux guest gets unless the user says otherwise:
 * `panic=-1`, so that a kernel panic ends the VM at once (Linux reboots,
 * and pvhboot ends the VM on a reset) instead of leaving it spinning until
 * --timeout or forever. Added when the kernel is Linux (a bzImage, or an ELF
 * whose Xen GUEST_OS note says "linux") and no `panic=` is on its command
 * line; inserted before a " -- " so that init's arguments stay last. Other
 * kernels get their command line exactly as given. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "guest_defaults.h"
#include "pvh/start_info.h"
#include "pvhboot/file.h"
#include "pvhboot/image.h"

#define LINUX_PANIC_DEFAULT "panic=-1"

/* Whether a kernel parameter starting with prefix is on the command line,
 * among the kernel's own (before a lone "--"). */
static bool has_param(const char *cmdline, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = cmdline; *p;) {
        while (*p == ' ' || *p == '\t')
            p++;
        size_t len = strcspn(p, " \t");
        if (len == 2 && !strncmp(p, "--", 2))
            return false;
        if (len >= n && !strncmp(p, prefix, n))
            return true;
        p += len;
    }
    return false;
}

/* Where the kernel's own parameters end: at " -- " (init's start), or the end. */
static size_t kernel_params_end(const char *cmdline)
{
    for (const char *p = cmdline; (p = strstr(p, "--")) != NULL; p += 2) {
        bool starts = p == cmdline || p[-1] == ' ' || p[-1] == '\t';
        bool ends = p[2] == '\0' || p[2] == ' ' || p[2] == '\t';
        if (starts && ends)
            return (size_t)(p - cmdline);
    }
    return strlen(cmdline);
}

static bool is_linux_elf(const char *path)
{
    struct pvh_error err;
    struct pvh_file f;
    if (pvh_file_open(&f, path, &err) != 0)
        return false;
    struct pvh_image *img = malloc(sizeof(*img)); /* pvh_image_parse sets it */
    bool linux_note = false;
    if (img && pvh_image_parse(f.data, f.size, path, img, &err) == 0) {
        for (size_t i = 0; i < img->nnotes && !linux_note; i++) {
            const struct pvh_note *n = &img->notes[i];
            linux_note = n->type == XEN_ELFNOTE_GUEST_OS && n->desc_size >= 5 &&
                         !strncmp((const char *)f.data + n->desc_off, "linux", n->desc_size);
        }
    }
    free(img);
    pvh_file_close(&f);
    return linux_note;
}

bool guest_is_linux(const struct pvh_vm_config *cfg)
{
    return cfg->kernel_name != NULL /* a bzImage, resolved to its payload */ || is_linux_elf(cfg->kernel);
}

char *guest_cmdline(const char *cmdline, bool is_linux)
{
    if (!is_linux || has_param(cmdline, "panic="))
        return strdup(cmdline);
    size_t cut = kernel_params_end(cmdline), len = strlen(cmdline);
    char *out = malloc(len + sizeof(LINUX_PANIC_DEFAULT) + 2);
    if (!out)
        return NULL;
    size_t head = cut;
    while (head > 0 && (cmdline[head - 1] == ' ' || cmdline[head - 1] == '\t'))
        head--;
    memcpy(out, cmdline, head);
    size_t o = head;
    if (head > 0)
        out[o++] = ' ';
    memcpy(out + o, LINUX_PANIC_DEFAULT, sizeof(LINUX_PANIC_DEFAULT) - 1);
    o += sizeof(LINUX_PANIC_DEFAULT) - 1;
    if (cut < len)
        out[o++] = ' ';
    memcpy(out + o, cmdline + cut, len - cut + 1);
    return out;
}
