/* `pvhboot inspect KERNEL [--json]`: what the image is, the boot protocol
 * `run` would use and why (PVH or Multiboot 1), its PT_LOAD segments (or
 * the Multiboot load plan), every Xen note decoded by name (its strings
 * escaped: no image byte reaches the terminal raw), the PVH entry, and the
 * diagnosis for input that cannot boot. Exit 0 for a bootable image (PVH or
 * Multiboot 1), 2 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pvh/start_info.h"
#include "pvhboot/extract.h"
#include "pvhboot/file.h"
#include "pvhboot/image.h"
#include "pvhboot/bytes.h"

struct out {
    FILE *f;
    bool json;
    bool first; /* no comma before the next JSON member */
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

static void print_mb1_text(const struct pvh_image *img)
{
    printf("multiboot1: flags %#x, entry %#x, %s%s\n", img->mb1_flags, img->mb1_entry,
           img->mb1_aout_kludge ? "a.out kludge address fields" : "ELF program headers",
           img->mb1_page_align ? ", modules page aligned" : "");
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        printf("multiboot1 load %zu: paddr %#llx offset %#llx filesz %#llx memsz %#llx\n", i,
               (unsigned long long)s->paddr, (unsigned long long)s->offset, (unsigned long long)s->filesz,
               (unsigned long long)s->memsz);
    }
}

static void print_text(const uint8_t *data, const struct pvh_image *img, const char *path)
{
    fputs("file: ", stdout);
    escaped(stdout, (const uint8_t *)path, strlen(path), false);
    printf("\nkind: %s\n", pvh_image_kind_name(img->kind));
    printf("protocol: %s", pvh_boot_protocol_name(img->protocol));
    printf(img->protocol_reason[0] ? " (%s)\n" : "\n", img->protocol_reason);
    if (img->protocol == PVH_BOOT_MULTIBOOT1)
        print_mb1_text(img);
    if (img->kind == PVH_IMAGE_BZIMAGE)
        printf("boot protocol: %u.%02u\npayload: offset %#llx, %llu bytes\n", img->boot_protocol >> 8,
               img->boot_protocol & 0xff, (unsigned long long)img->payload_offset,
               (unsigned long long)img->payload_length);
    if (img->multiboot_version)
        printf("multiboot: version %d header at offset %#llx\n", img->multiboot_version,
               (unsigned long long)img->multiboot_header_off);
    if (img->elf_class == 0)
        return;
    printf("elf: ELF%d, machine %u, entry %#llx\n", img->elf_class, img->elf_machine,
           (unsigned long long)img->elf_entry);
    for (size_t i = 0; i < img->nsegments; i++) {
        const struct pvh_segment *s = &img->seg[i];
        printf("PT_LOAD %zu: paddr %#llx vaddr %#llx offset %#llx filesz %#llx memsz %#llx flags %c%c%c\n", i,
               (unsigned long long)s->paddr, (unsigned long long)s->vaddr, (unsigned long long)s->offset,
               (unsigned long long)s->filesz, (unsigned long long)s->memsz, s->flags & 4 ? 'R' : '-',
               s->flags & 2 ? 'W' : '-', s->flags & 1 ? 'X' : '-');
    }
    for (size_t i = 0; i < img->nnotes; i++) {
        const struct pvh_note *n = &img->notes[i];
        printf("note %s (%u): ", xen_elfnote_name(n->type), n->type);
        print_note_value(stdout, data + n->desc_off, n, false);
        putchar('\n');
    }
    if (img->has_pvh_entry)
        printf("pvh entry: %#llx\n", (unsigned long long)img->pvh_entry);
    if (img->has_reloc)
        printf("pvh relocation: align %#x min %#x max %#x\n", img->reloc_align, img->reloc_min, img->reloc_max);
}

static void json_member(struct out *o, const char *key)
{
    fprintf(o->f, "%s\n  \"%s\": ", o->first ? "" : ",", key);
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

static void print_json(const uint8_t *data, const struct pvh_image *img, const char *path, int ok,
                       const struct pvh_error *err)
{
    struct out o = {stdout, true, true};
    fputc('{', o.f);
    json_member(&o, "file");
    json_string(o.f, (const uint8_t *)path, strlen(path));
    json_member(&o, "kind");
    fprintf(o.f, "\"%s\"", pvh_image_kind_name(img->kind));
    json_member(&o, "bootable");
    fputs(ok ? "true" : "false", o.f);
    json_member(&o, "pvh_bootable");
    fputs(ok && img->protocol == PVH_BOOT_PVH ? "true" : "false", o.f);
    json_member(&o, "protocol");
    fprintf(o.f, "\"%s\"", pvh_boot_protocol_name(img->protocol));
    json_member(&o, "protocol_reason");
    if (img->protocol_reason[0])
        json_string(o.f, (const uint8_t *)img->protocol_reason, strlen(img->protocol_reason));
    else
        fputs("null", o.f);
    json_member(&o, "error");
    if (ok)
        fputs("null", o.f);
    else
        json_string(o.f, (const uint8_t *)err->msg, strlen(err->msg));
    if (img->kind == PVH_IMAGE_BZIMAGE) {
        json_member(&o, "boot_protocol");
        fprintf(o.f, "\"%u.%02u\"", img->boot_protocol >> 8, img->boot_protocol & 0xff);
        json_member(&o, "payload");
        fprintf(o.f, "{\"offset\": \"%#llx\", \"length\": %llu}", (unsigned long long)img->payload_offset,
                (unsigned long long)img->payload_length);
    }
    if (img->multiboot_version) {
        json_member(&o, "multiboot");
        fprintf(o.f, "{\"version\": %d, \"header_offset\": \"%#llx\"}", img->multiboot_version,
                (unsigned long long)img->multiboot_header_off);
    }
    if (img->protocol == PVH_BOOT_MULTIBOOT1)
        print_mb1_json(&o, img);
    if (img->elf_class) {
        json_member(&o, "elf");
        fprintf(o.f, "{\"class\": %d, \"machine\": %u, \"entry\": \"%#llx\"}", img->elf_class, img->elf_machine,
                (unsigned long long)img->elf_entry);
        json_member(&o, "segments");
        fputc('[', o.f);
        for (size_t i = 0; i < img->nsegments; i++) {
            const struct pvh_segment *s = &img->seg[i];
            fprintf(o.f, "%s\n    {\"paddr\": \"%#llx\", \"vaddr\": \"%#llx\", \"offset\": \"%#llx\", \"filesz\": \"%#llx\", \"memsz\": \"%#llx\", \"flags\": \"%c%c%c\"}",
                    i ? "," : "", (unsigned long long)s->paddr, (unsigned long long)s->vaddr,
                    (unsigned long long)s->offset, (unsigned long long)s->filesz, (unsigned long long)s->memsz,
                    s->flags & 4 ? 'R' : '-', s->flags & 2 ? 'W' : '-', s->flags & 1 ? 'X' : '-');
        }
        fputs("]", o.f);
        json_member(&o, "xen_notes");
        fputc('[', o.f);
        for (size_t i = 0; i < img->nnotes; i++) {
            const struct pvh_note *n = &img->notes[i];
            fprintf(o.f, "%s\n    {\"type\": %u, \"name\": \"%s\", \"value\": ", i ? "," : "", n->type,
                    xen_elfnote_name(n->type));
            print_note_value(o.f, data + n->desc_off, n, true);
            fputc('}', o.f);
        }
        fputs("]", o.f);
    }
    json_member(&o, "pvh_entry");
    if (img->has_pvh_entry)
        fprintf(o.f, "\"%#llx\"", (unsigned long long)img->pvh_entry);
    else
        fputs("null", o.f);
    json_member(&o, "pvh_relocation");
    if (img->has_reloc)
        fprintf(o.f, "{\"align\": \"%#x\", \"min\": \"%#x\", \"max\": \"%#x\"}", img->reloc_align, img->reloc_min,
                img->reloc_max);
    else
        fputs("null", o.f);
    fputs("\n}\n", o.f);
}

/* For a bzImage: what its payload holds (compression, size, and whether
 * the ELF inside is a PVH kernel), decompressed in memory by the sandboxed
 * decoder child (extract/child.c): the payload is hostile input. */
static void print_bzimage_contents(const struct pvh_file *f, bool json)
{
    struct pvh_error err;
    uint8_t *elf = NULL;
    size_t len = 0;
    struct pvh_image inner;
    if (json)
        return;
    if (pvh_vmlinuz_extract_sandboxed(f->data, f->size, f->path, PVH_EXTRACT_MAX_DEFAULT, NULL, &elf, &len, &err)) {
        printf("payload: cannot extract: %s\n", err.msg);
        return;
    }
    int rc = pvh_image_parse(elf, len, "payload", &inner, &err);
    printf("payload: ELF%d vmlinux, %zu bytes; %s\n", inner.elf_class, len,
           rc == 0 ? "boots through PVH (pvhboot run extracts it)" : err.msg);
    if (rc == 0)
        printf("payload pvh entry: %#llx\n", (unsigned long long)inner.pvh_entry);
    free(elf);
}

static int usage(FILE *f, int status)
{
    fprintf(f, "usage: pvhboot inspect KERNEL [--json]\n"
               "  Describes a kernel image: kind, the boot protocol (PVH or Multiboot 1)\n"
               "  and why, ELF segments or the Multiboot load plan, Xen notes, PVH entry,\n"
               "  and why it cannot boot when it cannot. Exit 0: bootable.\n");
    return status;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return usage(stdout, 0);
        else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "pvhboot: inspect: unexpected argument '%s'\n", argv[i]);
            return usage(stderr, PVH_EXIT_BAD_INPUT);
        } else
            path = argv[i];
    }
    if (!path)
        return usage(stderr, PVH_EXIT_BAD_INPUT);
    struct pvh_error err = {0};
    struct pvh_file f;
    if (pvh_file_open(&f, path, &err) != 0)
        return cli_report(&err);
    struct pvh_image *img = calloc(1, sizeof(*img));
    if (!img) {
        pvh_file_close(&f);
        return PVH_EXIT_VMM_ERROR;
    }
    int ok = pvh_image_parse(f.data, f.size, path, img, &err) == 0;
    if (json)
        print_json(f.data, img, path, ok, &err);
    else
        print_text(f.data, img, path);
    if (img->kind == PVH_IMAGE_BZIMAGE)
        print_bzimage_contents(&f, json);
    free(img);
    if (pvh_file_check(&f, &err)) /* what was printed came from a file that changed meanwhile */
        ok = 0;
    pvh_file_close(&f);
    return ok ? 0 : cli_report(&err);
}
