#ifndef QBK_EXIT_H
#define QBK_EXIT_H

/*
 * Exit codes shared by every qbk program (DESIGN.md, qbk(7)).  Scripts and
 * cron jobs test these numbers, so they never change meaning.
 */
#define QBK_EXIT_OK		0	/* success */
#define QBK_EXIT_RUNTIME	1	/* server, network, storage failure */
#define QBK_EXIT_USAGE		2	/* usage or configuration error */
#define QBK_EXIT_DATA		3	/* integrity problem found */
#define QBK_EXIT_LOCKED		4	/* repository locked by another process */
#define QBK_EXIT_OBJECTIVE	5	/* RPO/RTO objective missed */

#endif /* !QBK_EXIT_H */
