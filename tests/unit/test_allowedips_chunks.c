// SPDX-License-Identifier: MIT
/*
 * The allowed-IPs tests of test_allowedips.c again, on a table built with
 * chunks of two nodes: chunks are then taken and given back all the
 * time, so the packing of the stores, the moves it makes and the
 * out-of-memory paths of chunk allocation are exercised far more often
 * than with the 128-node ones, whose bytes per prefix test_allowedips.c
 * checks.
 */
#define CWG_ALLOWEDIPS_CHUNK_NODES_SHIFT 1
#include "../../src/core/allowedips.c"
#include "test_allowedips.c"
