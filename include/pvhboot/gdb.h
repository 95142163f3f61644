/* The GDB remote serial protocol as pure data, for the stub in vmm/gdb.c:
 * framing of the bytes gdb sends ($data#cs packets, +/- acks, Ctrl-C),
 * decoding of the commands a stub serves, replies (checksummed, binary
 * bytes escaped) and the x86 register layouts gdb is told about through
 * target descriptions (i386 and i386:x86-64). No KVM, no I/O: everything
 * here reads hostile bytes within bounds and is fuzzed
 * (tests/fuzz/fuzz_gdb.c). */
#ifndef PVHBOOT_GDB_H
#define PVHBOOT_GDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most packet data (between '$' and '#') accepted; told to gdb as
 * PacketSize. A longer packet is consumed whole and refused. */
#define PVH_GDB_MAX_PACKET 4096
/* A reply's data before framing; escaping may double it. */
#define PVH_GDB_MAX_REPLY 4096
#define PVH_GDB_MAX_FRAME (2 * PVH_GDB_MAX_REPLY + 4)
#define PVH_GDB_MAX_VCONT 16

/* ---- framing ---------------------------------------------------------------- */

enum pvh_gdb_event {
    PVH_GDB_EV_NONE,         /* the bytes were consumed, nothing complete yet */
    PVH_GDB_EV_PACKET,       /* a packet with a good checksum: framer.buf[0..len) */
    PVH_GDB_EV_BAD_CHECKSUM, /* a packet whose checksum did not match (answer '-') */
    PVH_GDB_EV_OVERSIZED,    /* a packet longer than PVH_GDB_MAX_PACKET, consumed */
    PVH_GDB_EV_INTERRUPT,    /* 0x03 (Ctrl-C) outside a packet */
    PVH_GDB_EV_ACK,          /* '+' */
    PVH_GDB_EV_NAK,          /* '-': resend the last reply */
};

struct pvh_gdb_framer {
    int state;
    uint8_t sum;       /* running checksum of the data */
    uint8_t got;       /* the checksum read from the two digits */
    bool bad_digit;
    bool oversized;
    size_t len;
    uint8_t buf[PVH_GDB_MAX_PACKET + 1]; /* + a NUL after the data */
};

void pvh_gdb_framer_init(struct pvh_gdb_framer *f);
/* Consumes bytes from in[0, n) up to and including the one that completes
 * an event (*ev), or all of them (*ev = NONE); returns how many. Bytes
 * outside a packet other than '$', '+', '-' and 0x03 are ignored; a '$'
 * inside a packet starts a new one. After PACKET, buf holds the data (NUL
 * terminated, still escaped) until the next call. */
size_t pvh_gdb_framer_feed(struct pvh_gdb_framer *f, const uint8_t *in, size_t n, enum pvh_gdb_event *ev);

/* ---- commands --------------------------------------------------------------- */

enum pvh_gdb_cmd_kind {
    PVH_GDB_CMD_UNSUPPORTED,  /* answered with an empty packet */
    PVH_GDB_CMD_STOP_REASON,  /* ? */
    PVH_GDB_CMD_READ_REGS,    /* g */
    PVH_GDB_CMD_WRITE_REGS,   /* G data */
    PVH_GDB_CMD_READ_REG,     /* p reg */
    PVH_GDB_CMD_WRITE_REG,    /* P reg=data */
    PVH_GDB_CMD_READ_MEM,     /* m addr,len */
    PVH_GDB_CMD_WRITE_MEM,    /* M addr,len:hex and X addr,len:binary (data decoded) */
    PVH_GDB_CMD_CONTINUE,     /* c [addr], C sig[;addr] */
    PVH_GDB_CMD_STEP,         /* s [addr], S sig[;addr] */
    PVH_GDB_CMD_VCONT,        /* vCont;action[:thread]... */
    PVH_GDB_CMD_VCONT_QUERY,  /* vCont? */
    PVH_GDB_CMD_INSERT_BP,    /* Z type,addr,kind */
    PVH_GDB_CMD_REMOVE_BP,    /* z type,addr,kind */
    PVH_GDB_CMD_SET_THREAD,   /* H op thread */
    PVH_GDB_CMD_THREAD_ALIVE, /* T thread */
    PVH_GDB_CMD_THREADS_FIRST,/* qfThreadInfo */
    PVH_GDB_CMD_THREADS_NEXT, /* qsThreadInfo */
    PVH_GDB_CMD_CURRENT_THREAD, /* qC */
    PVH_GDB_CMD_THREAD_INFO,  /* qThreadExtraInfo,thread */
    PVH_GDB_CMD_SUPPORTED,    /* qSupported[:features] */
    PVH_GDB_CMD_XFER_FEATURES,/* qXfer:features:read:annex:offset,length */
    PVH_GDB_CMD_ATTACHED,     /* qAttached */
    PVH_GDB_CMD_NO_ACK,       /* QStartNoAckMode */
    PVH_GDB_CMD_DETACH,       /* D */
    PVH_GDB_CMD_KILL,         /* k, vKill */
};

/* Thread ids: vCPU n is thread n + 1; 0 means any, -1 all. */
#define PVH_GDB_THREAD_ANY 0
#define PVH_GDB_THREAD_ALL (-1)

struct pvh_gdb_vcont_action {
    char action;     /* 'c' or 's' (C and S: their signal is dropped) */
    int64_t thread;  /* PVH_GDB_THREAD_ALL when no ":thread" */
};

struct pvh_gdb_cmd {
    enum pvh_gdb_cmd_kind kind;
    uint64_t addr, len;        /* m M X Z z; qXfer offset and length */
    bool has_addr;             /* c s C S: resume at addr */
    unsigned reg;              /* p P */
    unsigned bp_type, bp_kind; /* Z z: 0 software, 1 hardware, 2 write, 3 read, 4 access watchpoint */
    char thread_op;            /* H: 'g' or 'c' */
    int64_t thread;            /* H T qThreadExtraInfo */
    const uint8_t *data;       /* G P M X: the decoded bytes (inside the packet buffer) */
    size_t data_len;
    size_t nactions;
    struct pvh_gdb_vcont_action actions[PVH_GDB_MAX_VCONT];
    char annex[32];            /* qXfer */
    bool swbreak, hwbreak;     /* qSupported: gdb understands these stop reasons */
    bool wants_ok;             /* vKill is answered (k is not) */
};

/* Decodes packet data pkt[0, len) (the framer's buffer: X's binary data
 * and the hex of G, P and M are decoded in place). 0 with *cmd filled (an
 * unknown command is PVH_GDB_CMD_UNSUPPORTED), -1 when a known command is
 * malformed (answer "E01"). */
int pvh_gdb_parse(uint8_t *pkt, size_t len, struct pvh_gdb_cmd *cmd);

/* ---- replies ---------------------------------------------------------------- */

/* A reply being built: data appended within PVH_GDB_MAX_REPLY (overflow
 * is remembered, and the reply then becomes "E28"), framed by
 * pvh_gdb_reply_frame. */
struct pvh_gdb_reply {
    size_t len;
    bool overflow;
    uint8_t data[PVH_GDB_MAX_REPLY];
};

void pvh_gdb_reply_init(struct pvh_gdb_reply *r);
void pvh_gdb_reply_str(struct pvh_gdb_reply *r, const char *s);
void pvh_gdb_reply_hex(struct pvh_gdb_reply *r, const uint8_t *bytes, size_t n);
void pvh_gdb_reply_u64(struct pvh_gdb_reply *r, uint64_t v); /* lowercase hex, no leading zeros */
void pvh_gdb_reply_binary(struct pvh_gdb_reply *r, const uint8_t *bytes, size_t n); /* escaped: # $ } * */
/* Writes "$data#cs" into out (at least PVH_GDB_MAX_FRAME bytes); returns its length. */
size_t pvh_gdb_reply_frame(const struct pvh_gdb_reply *r, uint8_t *out);

/* Hex helpers: 0..15, or -1 for a non-hex character. */
int pvh_gdb_hex_digit(uint8_t c);

/* ---- x86 registers ---------------------------------------------------------- */

enum pvh_gdb_arch { PVH_GDB_ARCH_I386, PVH_GDB_ARCH_X86_64 };

/* struct kvm_regs's order */
enum { PVH_GDB_RAX, PVH_GDB_RBX, PVH_GDB_RCX, PVH_GDB_RDX, PVH_GDB_RSI, PVH_GDB_RDI, PVH_GDB_RSP, PVH_GDB_RBP };
enum { PVH_GDB_CS, PVH_GDB_SS, PVH_GDB_DS, PVH_GDB_ES, PVH_GDB_FS, PVH_GDB_GS };

/* One vCPU's registers as data. code64: the vCPU runs 64-bit code (CS.L
 * in long mode); when it does not, the x86-64 layout reports the general
 * registers and rip zero-extended from 32 bits, as QEMU does. */
struct pvh_gdb_regs {
    uint64_t gpr[16];
    uint64_t rip, rflags;
    uint32_t seg[6];
    uint64_t fs_base, gs_base;
    uint64_t cr0, cr2, cr3, cr4, cr8, efer;
    uint8_t st[8][10];
    uint32_t fctrl, fstat, ftag, fiseg, fioff, foseg, fooff, fop;
    uint8_t xmm[16][16];
    uint32_t mxcsr;
    bool code64;
};

/* How many registers the layout has, and the size of its 'g' block. */
unsigned pvh_gdb_reg_count(enum pvh_gdb_arch arch);
size_t pvh_gdb_regs_size(enum pvh_gdb_arch arch);
/* Register regno's bytes (little endian, as gdb wants them) into out
 * (>= 16 bytes); its size, or 0 when there is no such register. */
size_t pvh_gdb_reg_get(enum pvh_gdb_arch arch, const struct pvh_gdb_regs *r, unsigned regno, uint8_t *out);
/* Sets register regno from exactly its size of bytes; -1 otherwise. */
int pvh_gdb_reg_set(enum pvh_gdb_arch arch, struct pvh_gdb_regs *r, unsigned regno, const uint8_t *in, size_t len);
/* The 'g' block into out (pvh_gdb_regs_size bytes); its length. */
size_t pvh_gdb_regs_get(enum pvh_gdb_arch arch, const struct pvh_gdb_regs *r, uint8_t *out, size_t cap);
/* 'G': sets the registers in[0, len) covers, which must end on a register
 * boundary within the block; -1 otherwise (nothing is changed then). */
int pvh_gdb_regs_set(enum pvh_gdb_arch arch, struct pvh_gdb_regs *r, const uint8_t *in, size_t len);
/* The register number of the instruction pointer (for 'T' stop replies). */
unsigned pvh_gdb_reg_pc(enum pvh_gdb_arch arch);

/* The target description (qXfer:features:read:target.xml) for the layout,
 * generated from the same table the accessors use. */
const char *pvh_gdb_target_xml(enum pvh_gdb_arch arch, size_t *len);

/* x87 tag word: gdb's full 2-bit-per-register form from FXSAVE's abridged
 * byte (bit i: physical register i not empty), r->st (ST order) and r->fstat's
 * TOP; and back. */
uint32_t pvh_gdb_ftag_full(uint8_t abridged, const struct pvh_gdb_regs *r);
uint8_t pvh_gdb_ftag_abridged(uint32_t full);

#endif
