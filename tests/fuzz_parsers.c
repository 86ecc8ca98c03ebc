/*
 * fuzz_parsers.c: the libFuzzer entry point over the wire parsers, built
 * and run by `make fuzz` with clang's -fsanitize=fuzzer. The target itself
 * is fuzz_one() in fuzz_body.h, shared with the seeded CUnit suite.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(data, size);
	return 0;
}
