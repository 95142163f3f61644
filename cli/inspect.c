/* `pvhboot inspect KERNEL [--json]`: what the image is, the boot protocol
 * `run` would use and why (PVH or Multiboot 1), its PT_LOAD segments (or
 * the Multiboot load plan), every Xen note decoded by name (its strings
 * escaped: no image byte reaches the terminal raw), the PVH entry, and the
 * diagnosis for input that cannot boot. A bzImage is judged as `run` boots
 * it: by its payload, decompressed in memory (nothing is written to the
 * cache), described under "payload". Exit 0 for a bootable image (PVH or
 * Multiboot 1), 2 otherwise. With --json every answer is one JSON object,
 * errors included (missing file, bad argument). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pvh/start_info.h"
#include "pvhboot/extract.h"
#include "pvhboot/file.h"
#include "pvhboot/image.h"
#include "pvhboot/bytes.h"

/* A bzImage's payload: what it is without decompressing (info), and when
 * decompression worked, the ELF inside and its parse. */
struct payload {
    bool have_info;               /* the payload's compression and size trailer were read */
    struct pvh_vmlinuz_info info;
    uint8_t *elf;                 /* decompressed, malloc'd; NULL when extraction failed */
    size_t len;
    struct pvh_image img;         /* parsed when elf != NULL */
    bool ok;                      /* the payload boots (by img.protocol) */
};

/* The whole answer for one file. */
struct verdict {
    const char *path;
    const uint8_t *data;          /* the file's bytes */
    struct pvh_image *img;        /* the file's own parse */
    struct payload *pl;           /* bzImage only, else NULL */
    bool ok;                      /* `run` can boot it */
    enum pvh_boot_protocol protocol;
    char reason[256];             /* why that protocol, "" when none */
    struct pvh_error err;         /* why not bootable */
};

struct out {
    FILE *f;
    bool first;                   /* no comma before the next JSON member */
    const char *indent;           /* before each member's key */
};

/* Bytes from the image (or the command line), up to n or a NUL, printed so
 * that they can neither reach the terminal as control sequences nor break
 * the JSON: printable ASCII as is, '"' and '\\' escaped, every other byte
 * (C0 controls, DEL, and all bytes >= 0x80, UTF-8 or not, C1 controls among
 * them) as \xNN in text and \u00NN in JSON. JSON readers get code points
 * 0-255 that are the bytes themselves (Python: value.encode("latin-1")). */
static void escaped(FILE *f, const uint8_t *s, size_t n, bool json)
{
    for (size_t i = 0; i < n && s[i]; i++) {
        if (s[i] == '"' || s[i] == '\\')
            fprintf(f, "\\%c", s[i]);
        else if (s[i] < 0x20 || s[i] >= 0x7f)
            fprintf(f, json ? "\\u%04x" : "\\x%02x", s[i]);
        else
            fputc(s[i], f);
    }
}

static void json_string(FILE *f, const uint8_t *s, size_t n)
{
    fputc('"', f);
    escaped(f, s, n, true);
    fputc('"', f);
}

static void json_cstring(FILE *f, const char *s)
{
    if (s)
        json_string(f, (const uint8_t *)s, strlen(s));
    else
        fputs("null", f);
}

static void print_bytes(FILE *f, const uint8_t *d, uint32_t n, bool json)
{
    fputs(json ? "\"" : "", f);
    for (uint32_t i = 0; i < n; i++)
        fprintf(f, "%s%02x", i && !json ? " " : "", d[i]);
    fputs(json ? "\"" : "", f);
}

/* "!a|b" -> ["!a", "b"] (JSON) or "!a, b" (text). */
static void print_features(FILE *f, const uint8_t *d, uint32_t n, bool json)
{
    size_t len = strnlen((const char *)d, n), start = 0;
    fputs(json ? "[" : "", f);
    for (size_t i = 0; i <= len; i++) {
        if (i < len && d[i] != '|')
            continue;
        if (start > 0)
            fputs(", ", f);
        if (json)
            json_string(f, d + start, i - start);
        else
            escaped(f, d + start, i - start, false);
        start = i + 1;
    }
    fputs(json ? "]" : "", f);
}

static void print_note_value(FILE *f, const uint8_t *d, const struct pvh_note *n, bool json)
{
    uint32_t sz = n->desc_size;
    switch (pvh_xen_note_format(n->type)) {
    case PVH_NOTE_STRING:
        if (json) {
            json_string(f, d, sz);
        } else {
            fputc('"', f);
            escaped(f, d, sz, false);
            fputc('"', f);
        }
        return;
    case PVH_NOTE_FEATURES:
        print_features(f, d, sz, json);
        return;
    case PVH_NOTE_NUMBER:
        if (sz == 1 || sz == 2 || sz == 4 || sz == 8) {
            fprintf(f, json ? "\"%#llx\"" : "%#llx", (unsigned long long)pvh_le(d, sz));
            return;
        }
        break;
    case PVH_NOTE_RELOC:
        if (sz == 12) {
            fprintf(f, json ? "{\"align\": \"%#x\", \"min\": \"%#x\", \"max\": \"%#x\"}" : "align %#x min %#x max %#x",
                    pvh_le32(d), pvh_le32(d + 4), pvh_le32(d + 8));
            return;
        }
        break;
    case PVH_NOTE_BYTES:
        break;
    }
    print_bytes(f, d, sz, json);
}

/* ---- the verdict ------------------------------------------------------------ */

/* Decompresses a bzImage's payload in memory and parses the ELF inside,
 * naming it "<path> (payload)" in messages. Fills v's verdict from it. */
static void judge_payload(struct verdict *v, size_t size)
{
    struct payload *pl = v->pl;
    char name[512];
    snprintf(name, sizeof(name), "%s (payload)", v->path);
    pl->have_info = pvh_vmlinuz_inspect(v->data, size, v->path, &pl->info, &v->err) == 0;
    if (!pl->have_info ||
        pvh_vmlinuz_extract_sandboxed(v->data, size, v->path, PVH_EXTRACT_MAX_DEFAULT, NULL, &pl->elf, &pl->len,
                                      &v->err) != 0)
        return;
    pl->ok = pvh_image_parse(pl->elf, pl->len, name, &pl->img, &v->err) == 0;
    if (!pl->ok)
        return;
    v->ok = true;
    v->protocol = pl->img.protocol;
    snprintf(v->reason, sizeof(v->reason), "bzImage payload (%s, %zu bytes): %s; pvhboot run extracts it",
             pvh_compression_name(pl->info.comp), pl->len, pl->img.protocol_reason);
}

static void judge(struct verdict *v, size_t size)
{
    v->ok = pvh_image_parse(v->data, size, v->path, v->img, &v->err) == 0;
    v->protocol = v->ok ? v->img->protocol : PVH_BOOT_NONE;
    if (v->ok)
        snprintf(v->reason, sizeof(v->reason), "%s", v->img->protocol_reason);
    if (v->img->kind == PVH_IMAGE_BZIMAGE && v->pl)
        judge_payload(v, size);
}

/* ---- text ------------------------------------------------------------------- */

static void print_mb1_text(const char *prefix, const struct pvh_image *img)
{
    printf("%smultiboot1: flags %#x, entry %#x, %s%s\n", prefix, img->mb1_flags, img->mb1_entry,
           img->mb1_aout_kludge ? "a.out kludge address fields" : "ELF program headers",
           img->mb1_page_align ? ", modules page aligned" : "");
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        printf("%smultiboot1 load %zu: paddr %#llx offset %#llx filesz %#llx memsz %#llx\n", prefix, i,
               (unsigned long long)s->paddr, (unsigned long long)s->offset, (unsigned long long)s->filesz,
               (unsigned long long)s->memsz);
    }
}

/* An image's ELF header, segments, notes, PVH entry and relocation, each
 * line starting with prefix ("" for the file, "payload " for a bzImage's). */
static void print_image_text(const char *prefix, const uint8_t *data, const struct pvh_image *img)
{
    if (img->protocol == PVH_BOOT_MULTIBOOT1)
        print_mb1_text(prefix, img);
    if (img->multiboot_version)
        printf("%smultiboot: version %d header at offset %#llx\n", prefix, img->multiboot_version,
               (unsigned long long)img->multiboot_header_off);
    if (img->elf_class == 0)
        return;
    printf("%self: ELF%d, machine %u, entry %#llx\n", prefix, img->elf_class, img->elf_machine,
           (unsigned long long)img->elf_entry);
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        printf("%sPT_LOAD %zu: paddr %#llx vaddr %#llx offset %#llx filesz %#llx memsz %#llx flags %c%c%c\n", prefix,
               i, (unsigned long long)s->paddr, (unsigned long long)s->vaddr, (unsigned long long)s->offset,
               (unsigned long long)s->filesz, (unsigned long long)s->memsz, s->flags & 4 ? 'R' : '-',
               s->flags & 2 ? 'W' : '-', s->flags & 1 ? 'X' : '-');
    }
    for (size_t i = 0; i < img->nnotes; i++) {
        const struct pvh_note *n = &img->notes[i];
        printf("%snote %s (%u): ", prefix, xen_elfnote_name(n->type), n->type);
        print_note_value(stdout, data + n->desc_off, n, false);
        putchar('\n');
    }
    if (img->has_pvh_entry)
        printf("%spvh entry: %#llx\n", prefix, (unsigned long long)img->pvh_entry);
    if (img->has_reloc)
        printf("%spvh relocation: align %#x min %#x max %#x\n", prefix, img->reloc_align, img->reloc_min,
               img->reloc_max);
}

static void print_payload_text(const struct verdict *v)
{
    const struct pvh_image *img = v->img;
    const struct payload *pl = v->pl;
    printf("boot protocol: %u.%02u\npayload: offset %#llx, %llu bytes", img->boot_protocol >> 8,
           img->boot_protocol & 0xff, (unsigned long long)img->payload_offset,
           (unsigned long long)img->payload_length);
    if (pl->have_info)
        printf(", %s, %u bytes uncompressed", pvh_compression_name(pl->info.comp), pl->info.uncompressed_size);
    putchar('\n');
    if (!pl->elf)
        return;
    printf("payload: ELF%d vmlinux, %zu bytes\n", pl->img.elf_class, pl->len);
    print_image_text("payload ", pl->elf, &pl->img);
}

static void print_text(const struct verdict *v)
{
    fputs("file: ", stdout);
    escaped(stdout, (const uint8_t *)v->path, strlen(v->path), false);
    printf("\nkind: %s\n", pvh_image_kind_name(v->img->kind));
    printf("protocol: %s", pvh_boot_protocol_name(v->protocol));
    printf(v->reason[0] ? " (%s)\n" : "\n", v->reason);
    if (v->pl)
        print_payload_text(v);
    else
        print_image_text("", v->data, v->img);
}

/* ---- JSON ------------------------------------------------------------------- */

static void json_member(struct out *o, const char *key)
{
    fprintf(o->f, "%s\n%s\"%s\": ", o->first ? "" : ",", o->indent, key);
    o->first = false;
}

static void print_mb1_json(struct out *o, const struct pvh_image *img)
{
    json_member(o, "multiboot1");
    fprintf(o->f, "{\"flags\": \"%#x\", \"entry\": \"%#x\", \"aout_kludge\": %s, \"page_align_modules\": %s, "
            "\"load\": [", img->mb1_flags, img->mb1_entry, img->mb1_aout_kludge ? "true" : "false",
            img->mb1_page_align ? "true" : "false");
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        fprintf(o->f, "%s{\"paddr\": \"%#llx\", \"offset\": \"%#llx\", \"filesz\": \"%#llx\", \"memsz\": \"%#llx\"}",
                i ? ", " : "", (unsigned long long)s->paddr, (unsigned long long)s->offset,
                (unsigned long long)s->filesz, (unsigned long long)s->memsz);
    }
    fputs("]}", o->f);
}

static void print_elf_json(struct out *o, const uint8_t *data, const struct pvh_image *img)
{
    json_member(o, "elf");
    fprintf(o->f, "{\"class\": %d, \"machine\": %u, \"entry\": \"%#llx\"}", img->elf_class, img->elf_machine,
            (unsigned long long)img->elf_entry);
    json_member(o, "segments");
    fputc('[', o->f);
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        fprintf(o->f, "%s\n%s  {\"paddr\": \"%#llx\", \"vaddr\": \"%#llx\", \"offset\": \"%#llx\", \"filesz\": \"%#llx\", \"memsz\": \"%#llx\", \"flags\": \"%c%c%c\"}",
                i ? "," : "", o->indent, (unsigned long long)s->paddr, (unsigned long long)s->vaddr,
                (unsigned long long)s->offset, (unsigned long long)s->filesz, (unsigned long long)s->memsz,
                s->flags & 4 ? 'R' : '-', s->flags & 2 ? 'W' : '-', s->flags & 1 ? 'X' : '-');
    }
    fputs("]", o->f);
    json_member(o, "xen_notes");
    fputc('[', o->f);
    for (size_t i = 0; i < img->nnotes; i++) {
        const struct pvh_note *n = &img->notes[i];
        fprintf(o->f, "%s\n%s  {\"type\": %u, \"name\": \"%s\", \"value\": ", i ? "," : "", o->indent, n->type,
                xen_elfnote_name(n->type));
        print_note_value(o->f, data + n->desc_off, n, true);
        fputc('}', o->f);
    }
    fputs("]", o->f);
}

static void print_pvh_json(struct out *o, const struct pvh_image *img)
{
    json_member(o, "pvh_entry");
    if (img->has_pvh_entry)
        fprintf(o->f, "\"%#llx\"", (unsigned long long)img->pvh_entry);
    else
        fputs("null", o->f);
    json_member(o, "pvh_relocation");
    if (img->has_reloc)
        fprintf(o->f, "{\"align\": \"%#x\", \"min\": \"%#x\", \"max\": \"%#x\"}", img->reloc_align, img->reloc_min,
                img->reloc_max);
    else
        fputs("null", o->f);
}

/* What an image holds: Multiboot headers, ELF header, segments, notes. */
static void print_image_json(struct out *o, const uint8_t *data, const struct pvh_image *img)
{
    if (img->multiboot_version) {
        json_member(o, "multiboot");
        fprintf(o->f, "{\"version\": %d, \"header_offset\": \"%#llx\"}", img->multiboot_version,
                (unsigned long long)img->multiboot_header_off);
    }
    if (img->protocol == PVH_BOOT_MULTIBOOT1)
        print_mb1_json(o, img);
    if (img->elf_class)
        print_elf_json(o, data, img);
}

/* "payload": where it is, its compression and size, and the ELF inside. */
static void print_payload_json(struct out *top, const struct verdict *v)
{
    const struct payload *pl = v->pl;
    struct out o = {top->f, true, "    "};
    json_member(top, "payload");
    fprintf(o.f, "{\n    \"offset\": \"%#llx\",\n    \"length\": %llu", (unsigned long long)v->img->payload_offset,
            (unsigned long long)v->img->payload_length);
    o.first = false;
    if (pl->have_info) {
        json_member(&o, "compression");
        fprintf(o.f, "\"%s\"", pvh_compression_name(pl->info.comp));
        json_member(&o, "size");
        fprintf(o.f, "%u", pl->info.uncompressed_size);
    }
    if (pl->elf) {
        json_member(&o, "kind");
        fprintf(o.f, "\"%s\"", pvh_image_kind_name(pl->img.kind));
        json_member(&o, "protocol");
        fprintf(o.f, "\"%s\"", pvh_boot_protocol_name(pl->ok ? pl->img.protocol : PVH_BOOT_NONE));
        print_image_json(&o, pl->elf, &pl->img);
        print_pvh_json(&o, &pl->img);
    }
    fputs("\n  }", o.f);
}

static void print_head_json(struct out *o, const char *path, const char *kind, bool ok, bool pvh,
                            enum pvh_boot_protocol protocol, const char *reason, const char *error)
{
    json_member(o, "file");
    json_cstring(o->f, path);
    json_member(o, "kind");
    fprintf(o->f, "\"%s\"", kind);
    json_member(o, "bootable");
    fputs(ok ? "true" : "false", o->f);
    json_member(o, "pvh_bootable");
    fputs(ok && pvh ? "true" : "false", o->f);
    json_member(o, "protocol");
    fprintf(o->f, "\"%s\"", pvh_boot_protocol_name(protocol));
    json_member(o, "protocol_reason");
    json_cstring(o->f, reason && reason[0] ? reason : NULL);
    json_member(o, "error");
    json_cstring(o->f, ok ? NULL : error);
}

static void print_json(const struct verdict *v)
{
    struct out o = {stdout, true, "  "};
    const struct pvh_image *img = v->img;
    fputc('{', o.f);
    print_head_json(&o, v->path, pvh_image_kind_name(img->kind), v->ok, v->protocol == PVH_BOOT_PVH, v->protocol,
                    v->reason, v->err.msg);
    if (img->kind == PVH_IMAGE_BZIMAGE) {
        json_member(&o, "boot_protocol");
        fprintf(o.f, "\"%u.%02u\"", img->boot_protocol >> 8, img->boot_protocol & 0xff);
    }
    if (v->pl) {
        print_payload_json(&o, v);
        print_pvh_json(&o, &v->pl->img); /* what boots: the payload's entry */
    } else {
        print_image_json(&o, v->data, img);
        print_pvh_json(&o, img);
    }
    fputs("\n}\n", o.f);
}

/* The JSON answer when there is no image to describe (a missing file, a bad
 * argument): the same head, kind "unknown", the error. */
static void print_json_error(const char *path, const char *msg)
{
    struct out o = {stdout, true, "  "};
    fputc('{', o.f);
    print_head_json(&o, path, "unknown", false, false, PVH_BOOT_NONE, NULL, msg);
    fputs("\n}\n", o.f);
}

/* ---- the verb --------------------------------------------------------------- */

static int usage(FILE *f, int status)
{
    fprintf(f, "usage: pvhboot inspect KERNEL [--json]\n"
               "  Describes a kernel image: kind, the boot protocol (PVH or Multiboot 1)\n"
               "  and why, ELF segments or the Multiboot load plan, Xen notes, PVH entry,\n"
               "  and why it cannot boot when it cannot. A bzImage (vmlinuz) is judged by\n"
               "  its payload, as pvhboot run boots it. Exit 0: bootable; 2: not.\n"
               "  --json: one JSON object, errors included.\n");
    return status;
}

/* A usage error: one line on stderr, and with --json the same as JSON. */
static int bad_argument(bool json, const char *arg)
{
    char msg[300];
    snprintf(msg, sizeof(msg), arg ? "inspect: unexpected argument '%s'" : "inspect: no KERNEL given%s", arg ? arg : "");
    fprintf(stderr, "pvhboot: %s\n", msg);
    if (json)
        print_json_error(NULL, msg);
    else
        usage(stderr, 0);
    return PVH_EXIT_BAD_INPUT;
}

static int inspect_file(const char *path, bool json)
{
    struct verdict v = {.path = path};
    struct pvh_file f;
    if (pvh_file_open(&f, path, &v.err) != 0) {
        if (json)
            print_json_error(path, v.err.msg);
        return cli_report(&v.err);
    }
    v.data = f.data;
    v.img = calloc(1, sizeof(*v.img));
    struct payload *pl = calloc(1, sizeof(*pl));
    if (!v.img || !pl) {
        free(v.img);
        free(pl);
        pvh_file_close(&f);
        pvh_fail(&v.err, PVH_E_SYSTEM, "%s: out of memory", path);
        if (json)
            print_json_error(path, v.err.msg);
        return cli_report(&v.err);
    }
    v.pl = pl;
    judge(&v, f.size);
    if (v.img->kind != PVH_IMAGE_BZIMAGE)
        v.pl = NULL;
    if (pvh_file_check(&f, &v.err)) /* what would be printed came from a file that changed meanwhile */
        v.ok = false;
    if (json)
        print_json(&v);
    else
        print_text(&v);
    int rc = v.ok ? 0 : cli_report(&v.err);
    free(pl->elf);
    free(pl);
    free(v.img);
    pvh_file_close(&f);
    return rc;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++)
        json = json || !strcmp(argv[i], "--json");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout, 0);
        if (argv[i][0] == '-' || path)
            return bad_argument(json, argv[i]);
        path = argv[i];
    }
    if (!path)
        return bad_argument(json, NULL);
    return inspect_file(path, json);
}
