/*
 * sandbox/modules.c - the list of provider modules built into hoopsync-sandbox.
 *
 * Design:     each provider module (sandbox/<provider>.c) exports one const ops table; this
 *             file is the only place that names them, in the order /_sandbox/health lists
 *             them. Adding a provider means adding its table here (DESIGN.md section 5).
 *             The references are strong on purpose: a weak reference would not make the
 *             linker pull the module's object out of the static library, and the module would
 *             silently be missing. -DHS_SBX_NO_BUILTIN_MODULES builds the core alone (tests
 *             and tools that bring their own modules through hs_sbx_options.modules).
 * Not here:   loading the modules (sbx.c).
 */
#include "sandbox/sbx_int.h"

size_t hs_sbx_builtin_modules(const struct hs_sbx_module_ops **out, size_t max)
{
#ifdef HS_SBX_NO_BUILTIN_MODULES
    (void)out;
    (void)max;
    return 0;
#else
    static const struct hs_sbx_module_ops *const builtin[] = {
        &hs_sbx_hubspot_ops,
        &hs_sbx_quickbooks_ops,
        &hs_sbx_xero_ops,
        &hs_sbx_zoho_ops,
    };
    size_t n = 0;
    for (; n < sizeof builtin / sizeof builtin[0] && n < max; n++)
        out[n] = builtin[n];
    return n;
#endif
}
