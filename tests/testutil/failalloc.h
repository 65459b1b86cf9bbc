/*
 * testutil/failalloc.h - allocator that fails the n-th allocation, for OOM tests.
 *
 * Design:     failalloc_arm(n) installs hooks so that the n-th allocation from now (0-based)
 *             and every later one return NULL until failalloc_disarm(). Frees always work.
 */
#ifndef HS_TESTUTIL_FAILALLOC_H
#define HS_TESTUTIL_FAILALLOC_H

#include <stdbool.h>

void failalloc_arm(int n);
void failalloc_disarm(void);
/* True when the armed allocator has refused at least one allocation since failalloc_arm. */
bool failalloc_tripped(void);
/* While held (calls nest), allocations succeed and do not count: for what a test's fake
 * provider does on its own side, which the code under test's failures must not reach. */
void failalloc_hold(bool on);

#endif
