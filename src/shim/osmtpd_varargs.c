/*
 * The variadic entry points of libopensmtpd.so.0. Stable Rust cannot define
 * a variadic function: these format the message and call the Rust side.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct osmtpd_ctx;

void mailcompat_osmtpd_answer(struct osmtpd_ctx *ctx, int kind, int code, const int *enh,
                              const char *text);
void mailcompat_osmtpd_dataline(struct osmtpd_ctx *ctx, const char *text);
void mailcompat_osmtpd_flush(void);

/* vasprintf, or exit like libopensmtpd does when memory runs out. */
static char *format(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) == -1) {
        mailcompat_osmtpd_flush();
        fprintf(stderr, "vasprintf: %s\n", strerror(errno));
        exit(1);
    }
    return s;
}

#define ANSWER(ctx, kind, code, enh, fmt)        \
    do {                                         \
        va_list ap;                              \
        char *text;                              \
        va_start(ap, fmt);                       \
        text = format(fmt, ap);                  \
        va_end(ap);                              \
        mailcompat_osmtpd_answer(ctx, kind, code, enh, text); \
        free(text);                              \
    } while (0)

void osmtpd_filter_reject(struct osmtpd_ctx *ctx, int code, const char *fmt, ...)
{
    ANSWER(ctx, 0, code, NULL, fmt);
}

void osmtpd_filter_reject_enh(struct osmtpd_ctx *ctx, int code, int class, int subject,
                              int detail, const char *fmt, ...)
{
    int enh[3] = { class, subject, detail };
    ANSWER(ctx, 0, code, enh, fmt);
}

void osmtpd_filter_disconnect(struct osmtpd_ctx *ctx, const char *fmt, ...)
{
    ANSWER(ctx, 1, 421, NULL, fmt);
}

void osmtpd_filter_disconnect_enh(struct osmtpd_ctx *ctx, int class, int subject, int detail,
                                  const char *fmt, ...)
{
    int enh[3] = { class, subject, detail };
    ANSWER(ctx, 1, 421, enh, fmt);
}

void osmtpd_filter_rewrite(struct osmtpd_ctx *ctx, const char *fmt, ...)
{
    ANSWER(ctx, 2, 0, NULL, fmt);
}

void osmtpd_filter_dataline(struct osmtpd_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    char *text;
    va_start(ap, fmt);
    /* Nearly every filter echoes lines with "%s": no need to copy those
       through printf, once per line of every message. */
    if (fmt != NULL && strcmp(fmt, "%s") == 0) {
        const char *line = va_arg(ap, const char *);
        va_end(ap);
        mailcompat_osmtpd_dataline(ctx, line != NULL ? line : "(null)");
        return;
    }
    text = format(fmt, ap);
    va_end(ap);
    mailcompat_osmtpd_dataline(ctx, text);
    free(text);
}

/* Answers already queued are written before the process exits (0.7 lost
   them). A NULL format prints only the errno text. */
void osmtpd_err(int eval, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    mailcompat_osmtpd_flush();
    if (fmt != NULL) {
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs(": ", stderr);
    }
    fprintf(stderr, "%s\n", strerror(saved));
    exit(eval);
}

void osmtpd_errx(int eval, const char *fmt, ...)
{
    va_list ap;
    mailcompat_osmtpd_flush();
    if (fmt != NULL) {
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    exit(eval);
}
