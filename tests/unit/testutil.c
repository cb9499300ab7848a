#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/qbk_log.h"
#include "testutil.h"

char *
tu_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	char *path;
	size_t n;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	n = strlen(base) + strlen(tag) + 32;
	path = malloc(n);
	if (path == NULL)
		return NULL;
	snprintf(path, n, "%s/qbk-unit-%s.XXXXXX", base, tag);
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

void
tu_rmrf(char *path)
{
	pid_t pid;
	int st;

	if (path == NULL)
		return;
	pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
	free(path);
}

int
tu_write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	if (fputs(text, f) == EOF) {
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static const char *
top_dir(void)
{
	const char *top = getenv("QBK_TOP");

	return top != NULL && *top != '\0' ? top : ".";
}

int
tu_sim_start(struct tu_sim *sim, int nodes, ...)
{
	char script[1024], storage[600], portfile[600], nodestr[16];
	const char *argv[64];
	int argc = 0, i, tries;
	char *dir;
	va_list ap;
	FILE *f;

	memset(sim, 0, sizeof(*sim));
	if (nodes < 1 || nodes > 8)
		return -1;
	if ((dir = tu_tmpdir("sim")) == NULL)
		return -1;
	snprintf(sim->dir, sizeof(sim->dir), "%s", dir);
	free(dir);
	snprintf(script, sizeof(script), "%s/tests/qdrant-sim/qdrant-sim.py",
	    top_dir());
	snprintf(storage, sizeof(storage), "%s/storage", sim->dir);
	snprintf(portfile, sizeof(portfile), "%s/ports", sim->dir);
	snprintf(nodestr, sizeof(nodestr), "%d", nodes);
	mkdir(storage, 0700);
	argv[argc++] = "python3";
	argv[argc++] = script;
	argv[argc++] = "--port";
	argv[argc++] = "0";
	argv[argc++] = "--storage";
	argv[argc++] = storage;
	argv[argc++] = "--port-file";
	argv[argc++] = portfile;
	argv[argc++] = "--nodes";
	argv[argc++] = nodestr;
	va_start(ap, nodes);
	while (argc < 62 && (argv[argc] = va_arg(ap, const char *)) != NULL)
		argc++;
	va_end(ap);
	argv[argc] = NULL;

	sim->pid = fork();
	if (sim->pid == -1)
		return -1;
	if (sim->pid == 0) {
		char logpath[700];
		int fd;

		snprintf(logpath, sizeof(logpath), "%s/log", sim->dir);
		fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp("python3", (char *const *)(void *)argv);
		_exit(127);
	}
	for (tries = 0; tries < 300; tries++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		int st;

		if ((f = fopen(portfile, "r")) != NULL) {
			for (i = 0; i < nodes; i++)
				if (fscanf(f, "%d", &sim->ports[i]) != 1)
					break;
			fclose(f);
			if (i == nodes)
				break;
		}
		if (waitpid(sim->pid, &st, WNOHANG) == sim->pid) {
			fprintf(stderr, "simulator exited early, see %s/log\n",
			    sim->dir);
			sim->pid = 0;
			return -1;
		}
		nanosleep(&ts, NULL);
	}
	if (tries == 300) {
		fprintf(stderr, "simulator did not start, see %s/log\n",
		    sim->dir);
		tu_sim_stop(sim);
		return -1;
	}
	sim->nodes = nodes;
	for (i = 0; i < nodes; i++)
		snprintf(sim->url[i], sizeof(sim->url[i]),
		    "http://127.0.0.1:%d", sim->ports[i]);
	return 0;
}

void
tu_sim_stop(struct tu_sim *sim)
{
	int st;

	if (sim->pid > 0) {
		kill(sim->pid, SIGTERM);
		waitpid(sim->pid, &st, 0);
		sim->pid = 0;
	}
	if (sim->dir[0] != '\0')
		tu_rmrf(strdup(sim->dir));
	sim->dir[0] = '\0';
}

static char log_text[65536];
static size_t log_len;

static void
capture_sink(void *cookie, enum qbk_log_level level, const char *msg)
{
	int n;

	(void)cookie;
	n = snprintf(log_text + log_len, sizeof(log_text) - log_len,
	    "%d %s\n", (int)level, msg);
	if (n > 0 && (size_t)n < sizeof(log_text) - log_len)
		log_len += (size_t)n;
}

void
tu_log_capture(void)
{
	tu_log_reset();
	qbk_log_set_sink(capture_sink, NULL);
	qbk_log_set_level(QBK_LOG_DEBUG);
}

const char *
tu_log_text(void)
{
	return log_text;
}

void
tu_log_reset(void)
{
	log_len = 0;
	log_text[0] = '\0';
}
