#ifndef QBK_TESTUTIL_H
#define QBK_TESTUTIL_H

/*
 * Helpers shared by the C unit tests (cmocka): scratch folders, a Qdrant
 * simulator child process, and a log sink that keeps the last messages.
 */
#include <stddef.h>
#include <sys/types.h>

struct tu_sim {
	pid_t pid;
	int nodes;
	int ports[8];
	char url[8][64];	/* "http://127.0.0.1:PORT" of each node */
	char dir[512];		/* scratch folder of this simulator */
};

/* tu_tmpdir(): a new scratch folder under $TMPDIR; removed by tu_rmrf(). */
char *tu_tmpdir(const char *tag);

/* tu_rmrf(path): remove a folder and everything in it; frees ${path}. */
void tu_rmrf(char *path);

/* tu_write_file(path, text): create ${path} holding ${text}; 0 or -1. */
int tu_write_file(const char *path, const char *text);

/* tu_sim_start(sim, nodes, extra...): start tests/qdrant-sim with ${nodes}
 * nodes and the NULL-terminated extra arguments; waits until it listens.
 * Returns 0, or -1 with a message on stderr. */
int tu_sim_start(struct tu_sim *sim, int nodes, ...);

/* tu_sim_stop(sim): SIGTERM the simulator, wait, remove its folder. */
void tu_sim_stop(struct tu_sim *sim);

/* tu_log_capture(): install a log sink that keeps the text of every message
 * (up to 64 KiB); tu_log_text() returns it, tu_log_reset() clears it. */
void tu_log_capture(void);
const char *tu_log_text(void);
void tu_log_reset(void);

#endif
