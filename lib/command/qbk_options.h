#ifndef QBK_OPTIONS_H
#define QBK_OPTIONS_H

/*
 * qbk_options: the configuration as the options of each command, in one
 * place.  A program fills its command's options from its command line,
 * leaving unset (0) what the configuration decides unless a function says
 * otherwise, then one call here fills the rest from the configuration its
 * context loaded (qbk_ctx_config()).
 */
struct qbk_backup_opts;
struct qbk_config;
struct qbk_config_secret;
struct qbk_ctx;
struct qbk_drill_opts;
struct qbk_err;
struct qbk_prune_opts;
struct qbk_repo_create_opts;
struct qbk_report_opts;
struct qbk_restore_opts;

/** qbk_backup_opts_from(cfg, full, bo): fill ${bo} from ${cfg}: the
 * sampled points, the content hashes (also when ${bo} asks them), the
 * workers and the node parallelism when 0, the nodes, the compression
 * level (-1: the repository's) and --type: ${full} 1 full, 0 incremental,
 * -1 [backup] type. */
void qbk_backup_opts_from(const struct qbk_config *, int,
    struct qbk_backup_opts *);

/** qbk_restore_opts_from(cfg, priority, ro): fill ${ro} from ${cfg}: the
 * recovery priority (${priority} when >= 0, an enum qbk_qdrant_priority,
 * else [qdrant] priority), the workers and the node parallelism when 0,
 * the sampled points, the nodes and the replica timeout. */
void qbk_restore_opts_from(const struct qbk_config *, int,
    struct qbk_restore_opts *);

/** qbk_drill_opts_from(cfg, level_set, d): fill ${d} from ${cfg}: the
 * validation level unless ${level_set}, the sampled points, the green
 * wait, the RTO target, keep_within, the recovery priority, the workers
 * when 0, the nodes of the target deployment ([drill] nodes when a
 * [drill] url is set and ${d} restores, else [qdrant] nodes), the node
 * parallelism and the replica timeout. */
void qbk_drill_opts_from(const struct qbk_config *, int,
    struct qbk_drill_opts *);

/** qbk_prune_opts_from(cfg, have_keep, po): fill ${po} from ${cfg}: the
 * retention policy of [retention] unless ${have_keep} (the command line
 * gave one), and the grace time of young chunks (the lock stale limit). */
void qbk_prune_opts_from(const struct qbk_config *, int,
    struct qbk_prune_opts *);

/** qbk_report_opts_from(cfg, ro): the RPO and RTO targets of
 * [objectives] into ${ro}, in seconds (-1: none). */
void qbk_report_opts_from(const struct qbk_config *,
    struct qbk_report_opts *);

/** qbk_init_opts_from(ctx, compression, encryption, c, err): apply
 * ${compression} and ${encryption} (NULL: as configured; the values of
 * qbk.conf(5)) to ${ctx}'s configuration, then fill ${c} with the
 * repository's location, cipher and compression level.  0, or -1 with
 * QBK_E_CONFIG (a bad value, no location). */
int qbk_init_opts_from(struct qbk_ctx *, const char *, const char *,
    struct qbk_repo_create_opts *, struct qbk_err *);

/** qbk_init_key_from(cfg, c, sec, err): the configured first key into
 * ${c}: its key file, or the passphrase read into ${sec} (the caller
 * releases ${sec}, also on failure).  0 or -1. */
int qbk_init_key_from(const struct qbk_config *,
    struct qbk_repo_create_opts *, struct qbk_config_secret *,
    struct qbk_err *);

#endif /* !QBK_OPTIONS_H */
