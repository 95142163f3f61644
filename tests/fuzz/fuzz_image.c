/* libFuzzer harness for image detection, ELF and Xen note parsing: any input
 * either parses or yields a one-line error; a parsed image's segments and
 * notes must lie inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pvhboot/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_inside(const struct pvh_image *img, size_t size)
{
    for (size_t i = 0; i < img->nsegments; i++)
        if (img->seg[i].offset > size || img->seg[i].filesz > size - img->seg[i].offset ||
            img->seg[i].filesz > img->seg[i].memsz)
            abort();
    for (size_t i = 0; i < img->nnotes; i++)
        if (img->notes[i].desc_off > size || img->notes[i].desc_size > size - img->notes[i].desc_off)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a private copy, so that reads past the end are caught by ASan */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    static struct pvh_image img;
    struct pvh_error err;
    int rc = pvh_image_parse(copy, size, "fuzz", &img, &err);
    if (rc == 0) {
        check_inside(&img, size);
        if (img.protocol == PVH_BOOT_NONE || (img.protocol == PVH_BOOT_PVH && !img.has_pvh_entry))
            abort();
    } else if (strlen(err.msg) == 0 || strchr(err.msg, '\n')) {
        abort();
    }
    for (size_t i = 0; i < img.nnotes; i++)
        (void)pvh_xen_note_format(img.notes[i].type);
    free(copy);
    return 0;
}
