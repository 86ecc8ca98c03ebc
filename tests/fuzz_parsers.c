/*
 * fuzz_parsers.c: the libFuzzer entry point, built by `make fuzz` with
 * clang's -fsanitize=fuzzer once per target of fuzz_body.h: FUZZ_NAME
 * ("hixie", ...) picks the target, so build/fuzz/fuzz_hixie runs only the
 * hixie-76 parsers and reproduces a crash file of that target alone.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_body.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME='\"<target>\"' (see the Makefile's fuzz rule)"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct fuzz_target *fuzz_target;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	for (fuzz_target = fuzz_targets; fuzz_target->name != NULL;
	     fuzz_target++)
		if (strcmp(fuzz_target->name, FUZZ_NAME) == 0)
			return 0;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_target->run(data, size);
	return 0;
}
