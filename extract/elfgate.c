/* The ELF gate: what a decompressed kernel must show in its first bytes
 * before a decoder may go on. First an x86 ELF header (ELF32 EM_386 or ELF64
 * EM_X86_64, little endian) — a payload that starts otherwise stops after at
 * most 64 decompressed bytes. Then its program headers, which must lie in
 * the first 64 KiB (a linker puts them right after the ELF header), and the
 * bound they give to the whole file:
 *
 *   bound = E + L + 12
 *
 * E: the furthest byte the ELF header, the program header table, the section
 * header table (from e_shoff/e_shnum) or any segment's file extent reaches;
 * section contents lie before the section header table in linker output.
 * L: the PT_LOAD file bytes. A bzImage payload is vmlinux.bin followed by
 * vmlinux.relocs (arch/x86/boot/compressed): 4-byte entries, one per
 * relocated field of the loaded image (fields do not overlap, so at most L/4
 * of them), and three zero terminators. Debian's kernels: E + L is 1.8-1.9
 * times the file size. The size trailer must not announce more. */
#include <string.h>

#include "codec.h"
#include "pvhboot/bytes.h"

#define EM_386 3
#define EM_X86_64 62
#define PT_LOAD 1
#define EHDR64 64
#define EHDR32 52
#define PHDR64 56
#define PHDR32 32
#define PH_WINDOW ((uint64_t)64 << 10)
#define RELOC_TERMINATORS 12

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static int not_elf(struct codec_io *io)
{
    const uint8_t *p = io->out;
    size_t n = io->out_len;
    return codec_fail(io, PVH_E_INPUT, "not an ELF file (starts %02x %02x %02x %02x); stopped after %zu of the "
                      "%zu bytes its size trailer announces", n > 0 ? p[0] : 0, n > 1 ? p[1] : 0,
                      n > 2 ? p[2] : 0, n > 3 ? p[3] : 0, n, io->out_cap - 1);
}

/* e_shoff + e_shnum * e_shentsize, saturated; 0 when there is no table. */
static uint64_t section_table_end(uint64_t shoff, uint64_t shnum, uint64_t shentsize)
{
    if (shoff == 0)
        return 0;
    uint64_t count = shnum ? shnum : 1; /* 0 with an offset: the real count is in section 0 */
    return sat_add(shoff, count * shentsize);
}

/* Reads the class-dependent fields of a complete ELF header. */
static int read_header(struct codec_io *io, const uint8_t *p)
{
    struct elf_gate *g = &io->gate;
    bool is64 = g->elf_class == 64;
    uint16_t machine = pvh_le16(p + 18), want = is64 ? EM_X86_64 : EM_386;
    if (machine != want)
        return codec_fail(io, PVH_E_INPUT, "ELF%u machine %u is not an x86 kernel's (ELF32 EM_386 or ELF64 "
                          "EM_X86_64)", g->elf_class, machine);
    uint64_t shoff = is64 ? pvh_le64(p + 40) : pvh_le32(p + 32);
    unsigned phentsize = pvh_le16(p + (is64 ? 54 : 42)), shentsize = pvh_le16(p + (is64 ? 58 : 46));
    unsigned shnum = pvh_le16(p + (is64 ? 60 : 48));
    g->ph_off = is64 ? pvh_le64(p + 32) : pvh_le32(p + 28);
    g->ph_num = pvh_le16(p + (is64 ? 56 : 44));
    unsigned ph_size = is64 ? PHDR64 : PHDR32;
    if (g->ph_num == 0)
        return codec_fail(io, PVH_E_INPUT, "its ELF header names no program headers: not a kernel");
    if (phentsize != ph_size)
        return codec_fail(io, PVH_E_INPUT, "ELF program header size %u, expected %u", phentsize, ph_size);
    g->ph_end = sat_add(g->ph_off, (uint64_t)g->ph_num * ph_size);
    if (g->ph_end > PH_WINDOW)
        return codec_fail(io, PVH_E_INPUT, "its program header table (offset %#llx, %u entries) does not lie in "
                          "the first 64 KiB, where a kernel's follows its ELF header",
                          (unsigned long long)g->ph_off, g->ph_num);
    g->header_end = max64(max64(is64 ? EHDR64 : EHDR32, g->ph_end), section_table_end(shoff, shnum, shentsize));
    g->stage = 1;
    return 0;
}

static int check_header(struct codec_io *io, bool complete)
{
    static const uint8_t magic[4] = {0x7f, 'E', 'L', 'F'};
    const uint8_t *p = io->out;
    size_t n = io->out_len;
    if ((n > 0 && memcmp(p, magic, n < 4 ? n : 4) != 0) || (complete && n < 4))
        return not_elf(io);
    if (n > 4 && p[4] != 1 && p[4] != 2)
        return codec_fail(io, PVH_E_INPUT, "ELF class %u is neither ELF32 nor ELF64", p[4]);
    if (n > 5 && p[5] != 1)
        return codec_fail(io, PVH_E_INPUT, "big-endian ELF (data encoding %u); x86 kernels are little endian", p[5]);
    size_t need = n > 4 && p[4] == 1 ? EHDR32 : EHDR64;
    if (n < need) {
        if (complete)
            return codec_fail(io, PVH_E_INPUT, "truncated ELF header (%zu bytes, need %zu)", n, need);
        return 0;
    }
    io->gate.elf_class = p[4] == 1 ? 32 : 64;
    return read_header(io, p);
}

static int check_program_headers(struct codec_io *io, bool complete)
{
    struct elf_gate *g = &io->gate;
    if (io->out_len < g->ph_end) {
        if (complete)
            return codec_fail(io, PVH_E_INPUT, "truncated: its program header table ends at %#llx, past the "
                              "%zu decompressed bytes", (unsigned long long)g->ph_end, io->out_len);
        return 0;
    }
    bool is64 = g->elf_class == 64;
    uint64_t far = g->header_end, loaded = 0;
    unsigned loads = 0;
    for (unsigned i = 0; i < g->ph_num; i++) {
        const uint8_t *e = io->out + g->ph_off + (uint64_t)i * (is64 ? PHDR64 : PHDR32);
        uint64_t off = is64 ? pvh_le64(e + 8) : pvh_le32(e + 4);
        uint64_t filesz = is64 ? pvh_le64(e + 32) : pvh_le32(e + 16);
        far = max64(far, sat_add(off, filesz));
        if (pvh_le32(e) == PT_LOAD) {
            loaded = sat_add(loaded, filesz);
            loads++;
        }
    }
    if (loads == 0)
        return codec_fail(io, PVH_E_INPUT, "its program headers name no PT_LOAD segment: not a kernel");
    g->bound = sat_add(sat_add(far, loaded), RELOC_TERMINATORS);
    if (io->out_cap - 1 > g->bound)
        return codec_fail(io, PVH_E_INPUT, "its size trailer announces %zu bytes, more than its ELF headers account "
                          "for (%llu: tables and segments end at %#llx, plus %llu bytes of loaded data that Linux's "
                          "relocation table may cover)", io->out_cap - 1, (unsigned long long)g->bound,
                          (unsigned long long)far, (unsigned long long)loaded);
    g->stage = 2;
    return 0;
}

int gate_check(struct codec_io *io, bool complete)
{
    if (io->gate.stage == 0 && check_header(io, complete) != 0)
        return -1;
    if (io->gate.stage == 1 && check_program_headers(io, complete) != 0)
        return -1;
    return 0;
}

size_t gate_wants(const struct codec_io *io)
{
    uint64_t want = io->gate.stage == 0 ? EHDR64 : io->gate.stage == 1 ? io->gate.ph_end : io->out_cap;
    return want < io->out_cap ? (size_t)want : io->out_cap;
}
