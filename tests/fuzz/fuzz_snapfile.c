/* libFuzzer harness for the snapshot state file's reader (lib/snapfile.c):
 * the input is a state file, opened as it is and again "resealed" (its
 * header's length, the trailer's checksum and reserved word made right, so
 * that the fuzzer reaches the section walk past the checksum). When a file
 * opens, every section is walked with pvh_snap_at and looked up with
 * pvh_snap_find (the same section back), every byte of each is read (ASan
 * checks they lie inside the input), and the writer, given the sections in
 * order, must write the very same bytes: a valid file has exactly one
 * encoding. A refusal must carry a one-line message and leave the reader
 * empty. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz_common.h"
#include "pvhboot/bytes.h"
#include "pvhboot/snapfile.h"

static void check_refusal(const struct pvh_snap_reader *r, const struct pvh_error *err)
{
    check(err->msg[0] != '\0' && strchr(err->msg, '\n') == NULL && strncmp(err->msg, "state file: ", 12) == 0);
    check(r->sections == 0 && r->buf == NULL);
}

static void check_section(const struct pvh_snap_reader *r, const struct pvh_snap_section *s)
{
    check(s->data >= r->buf + 24 && s->len <= r->len && s->data + s->len <= r->buf + r->len - 8);
    volatile uint8_t sum = 0;
    for (size_t k = 0; k < s->len; k++)
        sum ^= s->data[k];
    (void)sum;
    struct pvh_snap_section found;
    check(pvh_snap_find(r, s->tag, s->index, &found) == &found);
    check(found.data == s->data && found.len == s->len && found.tag == s->tag && found.index == s->index);
}

/* The writer given the same sections writes the same file. */
static void check_rewrite(const struct pvh_snap_reader *r)
{
    struct pvh_snap_writer w;
    struct pvh_error err;
    check(pvh_snap_writer_init(&w, &err) == 0);
    struct pvh_snap_section s;
    for (uint32_t i = 0; i < r->sections; i++) {
        pvh_snap_at(r, i, &s);
        check(pvh_snap_put(&w, s.tag, s.index, s.data, s.len, &err) == 0);
    }
    const uint8_t *out;
    size_t len;
    check(pvh_snap_finish(&w, &out, &len, &err) == 0);
    check(len == r->len && memcmp(out, r->buf, len) == 0);
    pvh_snap_writer_free(&w);
}

static void open_and_walk(const uint8_t *buf, size_t len)
{
    struct pvh_snap_reader r;
    struct pvh_error err = {0};
    if (pvh_snap_open(&r, buf, len, &err) != 0) {
        check_refusal(&r, &err);
        return;
    }
    check(r.buf == buf && r.len == len && r.sections <= PVH_SNAP_MAX_SECTIONS);
    struct pvh_snap_section s;
    for (uint32_t i = 0; i < r.sections; i++) {
        pvh_snap_at(&r, i, &s);
        check_section(&r, &s);
    }
    pvh_snap_at(&r, r.sections, &s);
    check(s.data == NULL && s.len == 0);
    check_rewrite(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1); /* exactly the input's size: ASan sees any read past it */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    open_and_walk(copy, size);
    if (size >= 32 && size % 8 == 0) {
        pvh_put_le64(copy + 16, size);
        pvh_put_le32(copy + size - 4, 0);
        pvh_put_le32(copy + size - 8, (uint32_t)crc32(0, copy, (uInt)(size - 8)));
        open_and_walk(copy, size);
    }
    free(copy);
    return 0;
}
