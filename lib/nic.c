/* The names and addresses a NIC is given (--net, the API's
 * network-interfaces): a TAP's name and a MAC address, checked without
 * saying why in words (each caller has its own): pure, libc only. The
 * declarations are in pvhboot/vmm.h, beside struct pvh_vm_net. */
#include <stdbool.h>
#include <string.h>

#include "pvhboot/vmm.h"

enum pvh_tap_name_verdict pvh_tap_name_check(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > PVH_TAP_NAME_MAX || !strcmp(name, ".") || !strcmp(name, ".."))
        return PVH_TAP_NAME_BAD_LENGTH;
    for (size_t i = 0; i < n; i++)
        if (name[i] <= ' ' || name[i] > '~' || name[i] == '/' || name[i] == ':' || name[i] == '%')
            return PVH_TAP_NAME_BAD_CHAR;
    return PVH_TAP_NAME_OK;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

enum pvh_mac_verdict pvh_mac_parse(const char *s, const char *separators, uint8_t mac[6])
{
    bool zero = true;
    memset(mac, 0, 6);
    if (strlen(s) != 17)
        return PVH_MAC_MALFORMED;
    for (int i = 0; i < 6; i++) {
        int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);
        if (hi < 0 || lo < 0 || (i < 5 && !strchr(separators, s[3 * i + 2])))
            return PVH_MAC_MALFORMED;
        mac[i] = (uint8_t)(hi << 4 | lo);
        zero = zero && mac[i] == 0;
    }
    return mac[0] & 1 ? PVH_MAC_MULTICAST : zero ? PVH_MAC_ZERO : PVH_MAC_OK;
}
