/*
 * replay: a standalone main() for a libFuzzer target, so that ordinary gcc
 * builds (and `make check`) rerun every input of its corpus.  Usage:
 *   fuzz_<target>-replay DIR   prints TAP: one test per input file.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
main(int argc, char *argv[])
{
	char *names[4096];
	size_t n = 0, i;
	struct dirent *de;
	DIR *d;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	if ((d = opendir(argv[1])) == NULL) {
		printf("1..1\nnot ok 1 - corpus folder '%s' missing\n", argv[1]);
		return 1;
	}
	while ((de = readdir(d)) != NULL && n < 4096)
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof(names[0]), by_name);
	if (n == 0) {
		printf("1..1\nnot ok 1 - corpus folder '%s' is empty\n", argv[1]);
		return 1;
	}
	printf("1..%zu\n", n);
	for (i = 0; i < n; i++) {
		char path[4096];
		unsigned char *data;
		struct stat st;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st)) {
			printf("not ok %zu - cannot read %s\n", i + 1, path);
			if (f != NULL)
				fclose(f);
			continue;
		}
		data = malloc((size_t)st.st_size + 1);
		if (data == NULL ||
		    fread(data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
			printf("not ok %zu - cannot read %s\n", i + 1, path);
		} else {
			/* A crash aborts the whole run: the plan then fails. */
			LLVMFuzzerTestOneInput(data, (size_t)st.st_size);
			printf("ok %zu - %s\n", i + 1, names[i]);
		}
		free(data);
		fclose(f);
		free(names[i]);
	}
	return 0;
}
