/*
 * A small OpenSMTPD filter built on libopensmtpd.so.0 (the Debian 0.7 API,
 * /usr/include/opensmtpd.h), run by the real smtpd in osmtpd_smtpd:
 *   - rcpt-to: rejects blocked@example.org with a 550 and a text, proceeds
 *     for anyone else;
 *   - data-line: puts two header lines in front of each message,
 *       X-Filtered-By: mailcompat
 *       X-Mailcompat-Envelope: identity=<ctx->identity>; from=<ctx->mailfrom>;
 *           rcpt=<ctx->rcptto[0]>,<ctx->rcptto[1]>...
 *     (the fields the library keeps with OSMTPD_NEED_IDENTITY, _MAILFROM and
 *     _RCPTTO), then passes every line through unchanged;
 *   - per-message state through osmtpd_local_message, counted so the
 *     headers also say which message of the session this is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <opensmtpd.h>

struct session {
	int messages;
};

struct message {
	int started;
	int number;
};

static void *
session_new(struct osmtpd_ctx *ctx)
{
	struct session *s;

	(void)ctx;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		osmtpd_err(1, "calloc");
	return s;
}

static void
session_free(struct osmtpd_ctx *ctx, void *data)
{
	(void)ctx;
	free(data);
}

static void *
message_new(struct osmtpd_ctx *ctx)
{
	struct session *s = ctx->local_session;
	struct message *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		osmtpd_err(1, "calloc");
	m->number = ++s->messages;
	return m;
}

static void
message_free(struct osmtpd_ctx *ctx, void *data)
{
	(void)ctx;
	free(data);
}

static void
rcptto(struct osmtpd_ctx *ctx, const char *address)
{
	if (strcmp(address, "blocked@example.org") == 0)
		osmtpd_filter_reject(ctx, 550, "5.7.1 mailcompat refuses <%s>", address);
	else
		osmtpd_filter_proceed(ctx);
}

static void
dataline(struct osmtpd_ctx *ctx, const char *line)
{
	struct message *m = ctx->local_message;
	char rcpts[1024] = "";
	size_t i;

	if (m == NULL)
		osmtpd_errx(1, "data-line without a message");
	if (!m->started) {
		m->started = 1;
		for (i = 0; ctx->rcptto[i] != NULL; i++) {
			if (i > 0)
				strncat(rcpts, ",", sizeof(rcpts) - strlen(rcpts) - 1);
			strncat(rcpts, ctx->rcptto[i], sizeof(rcpts) - strlen(rcpts) - 1);
		}
		osmtpd_filter_dataline(ctx, "X-Filtered-By: mailcompat");
		osmtpd_filter_dataline(ctx, "X-Mailcompat-Envelope: message=%d; identity=%s; from=%s; rcpt=%s",
		    m->number, ctx->identity ? ctx->identity : "(none)",
		    ctx->mailfrom ? ctx->mailfrom : "(none)", rcpts);
	}
	osmtpd_filter_dataline(ctx, "%s", line);
}

int
main(void)
{
	osmtpd_need(OSMTPD_NEED_MAILFROM | OSMTPD_NEED_RCPTTO | OSMTPD_NEED_IDENTITY);
	osmtpd_local_session(session_new, session_free);
	osmtpd_local_message(message_new, message_free);
	osmtpd_register_filter_rcptto(rcptto);
	osmtpd_register_filter_dataline(dataline);
	osmtpd_run();
	return 0;
}
