/* A small ACPI Machine Language (AML) writer: just what pvhboot's DSDT
 * holds (scopes, devices, a method that notifies a device, named strings,
 * integers, EISA IDs, packages and resource templates with Memory32Fixed
 * and Interrupt descriptors, or IO and IRQNoFlags ones). Encodings follow
 * ACPI 6.x, 20 "ACPI Machine Language Specification".
 *
 * A writer with no buffer only measures: the same calls give the exact size
 * first, so callers allocate what the machine description needs. While a
 * package is open its PkgLength holds 4 bytes, shrunk when it closes: give
 * the writer PVH_AML_SLACK(depth) bytes beyond the measured size, depth
 * being the deepest nesting of packages. Writing past the buffer sets
 * `overflow` and writes nothing more. */
#ifndef PVHBOOT_AML_H
#define PVHBOOT_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVH_AML_SLACK(depth) (3 * (size_t)(depth))

struct pvh_aml {
    uint8_t *buf; /* NULL: measure only */
    size_t cap;
    size_t len;   /* bytes produced (or measured) so far */
    bool overflow;
};

/* Starts writing AML into buf (cap bytes); buf NULL only measures. */
void pvh_aml_init(struct pvh_aml *a, uint8_t *buf, size_t cap);

/* A package (Scope, Device, Buffer, Package) reserves its PkgLength at
 * begin and encodes it at end, in 1 to 4 bytes as the contents need. */
size_t pvh_aml_pkg_begin(struct pvh_aml *a);
void pvh_aml_pkg_end(struct pvh_aml *a, size_t mark);

/* Scope(name) { ... } and Device(name) { ... }: name is "\\_SB_" or a
 * NameSeg of up to 4 characters (padded with '_'). End with pvh_aml_pkg_end. */
size_t pvh_aml_scope_begin(struct pvh_aml *a, const char *name);
size_t pvh_aml_device_begin(struct pvh_aml *a, const char *name);

/* Method(name, nargs, NotSerialized) { ... }: end with pvh_aml_pkg_end. */
size_t pvh_aml_method_begin(struct pvh_aml *a, const char *name, uint8_t nargs);

/* Notify(path, value): path is a NameSeg or a dotted path such as
 * "\\_SB_.VGEN" (each segment up to 4 characters, '_'-padded). */
void pvh_aml_notify(struct pvh_aml *a, const char *path, uint8_t value);

/* Name(name, "string"), Name(name, integer). */
void pvh_aml_name_string(struct pvh_aml *a, const char *name, const char *value);
void pvh_aml_name_integer(struct pvh_aml *a, const char *name, uint64_t value);

/* Name(name, Package() { values... }) of integers. */
void pvh_aml_name_int_package(struct pvh_aml *a, const char *name, const uint64_t *values, uint8_t n);

/* Name(name, Package() { low 32 bits, high 32 bits }) of a guest-physical
 * address, both as DWordConst whatever their value: the size does not depend
 * on the address (the DSDT is measured before the address is known). */
void pvh_aml_name_address_package(struct pvh_aml *a, const char *name, uint64_t addr);

/* Name(_CRS, ResourceTemplate() { Memory32Fixed(ReadWrite, base, size)
 * Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi } }). */
void pvh_aml_name_mmio_irq_resources(struct pvh_aml *a, const char *name, uint32_t base, uint32_t size,
                                     uint32_t gsi);

/* Name(name, EisaId("PNP0303")): id is three capital letters and four hex
 * digits; false (nothing written) otherwise. */
bool pvh_aml_name_eisa_id(struct pvh_aml *a, const char *name, const char *id);

/* Name(_CRS, ResourceTemplate() { IO(Decode16, port, port, 1, 1) per port
 * (at most 4), IRQNoFlags() { irq } }) for an ISA device; irq 0 to 15. */
void pvh_aml_name_io_irq_resources(struct pvh_aml *a, const char *name, const uint16_t *ports, size_t nports,
                                   uint8_t irq);

#endif
