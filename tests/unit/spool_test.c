#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/qbk_err.h"
#include "common/qbk_spool.h"

#define TOTAL	((size_t)9 << 20)	/* more than the bound below */
#define BOUND	((uint64_t)2 << 20)

static uint8_t
byte_at(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

/* A consumer that holds still until released (a slow repository), checks
 * the order of the bytes, and may fail at a given offset. */
struct consumer {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int released;
	size_t got;
	size_t fail_at;		/* fail when passing it; 0 never */
	int bad_order;
};

static int
consume(void *cookie, const void *data, size_t len, struct qbk_err *err)
{
	struct consumer *c = cookie;
	const uint8_t *p = data;
	size_t i;

	pthread_mutex_lock(&c->mu);
	while (!c->released)
		pthread_cond_wait(&c->cond, &c->mu);
	pthread_mutex_unlock(&c->mu);
	if (c->fail_at != 0 && c->got + len > c->fail_at)
		return qbk_err_set(err, QBK_E_IO, "store failed");
	for (i = 0; i < len; i++)
		if (p[i] != byte_at(c->got + i))
			c->bad_order = 1;
	c->got += len;
	return 0;
}

static void
consumer_init(struct consumer *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
}

static void
release(struct consumer *c)
{
	pthread_mutex_lock(&c->mu);
	c->released = 1;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

/* A producer thread putting TOTAL bytes in pieces of 100000. */
struct producer {
	struct qbk_spool *sp;
	size_t put;		/* bytes put so far */
	int rc;
	struct qbk_err err;
};

static void *
produce(void *arg)
{
	struct producer *pr = arg;
	static uint8_t piece[100000];

	while (pr->put < TOTAL) {
		size_t n = TOTAL - pr->put < sizeof(piece) ?
		    TOTAL - pr->put : sizeof(piece);
		size_t i;

		for (i = 0; i < n; i++)
			piece[i] = byte_at(pr->put + i);
		if ((pr->rc = qbk_spool_put(pr->sp, piece, n, &pr->err)) != 0)
			return NULL;
		pr->put += n;
	}
	return NULL;
}

/* While the consumer holds still (a stalled repository), the producer
 * still puts the bound's worth without waiting; more waits until the
 * consumer moves; everything arrives in order. */
static void
test_bounded_then_drained(void **state)
{
	struct consumer c;
	struct producer pr;
	struct qbk_err err = QBK_ERR_INIT;
	static uint8_t first[BOUND];
	pthread_t t;
	size_t i;

	(void)state;
	consumer_init(&c);
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(qbk_spool_start(BOUND, consume, &c, &pr.sp, &err),
	    0);
	for (i = 0; i < BOUND; i++)
		first[i] = byte_at(i);
	assert_int_equal(qbk_spool_put(pr.sp, first, BOUND, &err), 0);
	assert_int_equal(c.got, 0);
	pr.put = BOUND;
	assert_int_equal(pthread_create(&t, NULL, produce, &pr), 0);
	release(&c);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(pr.rc, 0);
	assert_int_equal(qbk_spool_finish(pr.sp, &err), 0);
	assert_int_equal(c.got, TOTAL);
	assert_int_equal(c.bad_order, 0);
}

/* The consumer's error reaches the producer and the finish. */
static void
test_consumer_error(void **state)
{
	struct consumer c;
	struct producer pr;
	struct qbk_err err = QBK_ERR_INIT;

	(void)state;
	consumer_init(&c);
	c.released = 1;
	c.fail_at = 3 << 20;
	memset(&pr, 0, sizeof(pr));
	assert_int_equal(qbk_spool_start(BOUND, consume, &c, &pr.sp, &err),
	    0);
	produce(&pr);
	/* The producer may have put everything before the failure. */
	if (pr.rc != 0) {
		assert_int_equal(pr.err.code, QBK_E_IO);
		assert_string_equal(pr.err.msg, "store failed");
	}
	assert_int_equal(qbk_spool_finish(pr.sp, &err), -1);
	assert_int_equal(err.code, QBK_E_IO);
	assert_string_equal(err.msg, "store failed");
}

/* Abort with a consumer that never gets the bytes: nothing is handed on
 * after the piece in hand, and it returns. */
static void
test_abort(void **state)
{
	struct consumer c;
	struct qbk_spool *sp;
	struct qbk_err err = QBK_ERR_INIT;
	static uint8_t data[300000];

	(void)state;
	consumer_init(&c);
	c.released = 1;
	c.fail_at = 1;
	assert_int_equal(qbk_spool_start(BOUND, consume, &c, &sp, &err), 0);
	assert_int_equal(qbk_spool_put(sp, data, sizeof(data), &err) == 0 ||
	    err.code == QBK_E_IO, 1);
	qbk_spool_abort(sp);
	qbk_spool_abort(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded_then_drained),
		cmocka_unit_test(test_consumer_error),
		cmocka_unit_test(test_abort),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
