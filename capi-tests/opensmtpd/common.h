/* Shared helpers of the libopensmtpd C-API test filters (header-only; each
   filter is one translation unit: cc f_x.c -lopensmtpd).

   stdout is the protocol pipe to smtpd, so everything a filter observes is
   printed to stderr, line-buffered so that it interleaves correctly with
   the library's own error message.  Nothing printed may vary between runs:
   no pointers, no PIDs, no clock.  */
#ifndef OSMTPD_CAPI_COMMON_H
#define OSMTPD_CAPI_COMMON_H

#define _GNU_SOURCE
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <opensmtpd.h>

#define UNUSED(x) ((void) (x))
/* Helpers are static; not every filter uses every one.  */
#define HELPER static __attribute__ ((unused))

/* The phase names by Debian 0.7's enum values (the library under test must
   keep that numbering); 31 is our link-auth extension.  */
static const char *const phase_names[] = {
  "connect", "helo", "ehlo", "starttls", "auth", "mail-from", "rcpt-to",
  "data", "data-line", "rset", "quit", "noop", "help", "wiz", "commit",
  "link-connect", "link-disconnect", "link-greeting", "link-identify",
  "link-tls", "tx-begin", "tx-mail", "tx-rcpt", "tx-envelope", "tx-data",
  "tx-commit", "tx-rollback", "protocol-client", "protocol-server",
  "filter-response", "timeout", "link-auth"
};
#define NPHASES ((int) (sizeof phase_names / sizeof phase_names[0]))

/* ------------------------------------------------------------ printing */

HELPER void put_esc (const char *s)
{
  for (; *s != '\0'; s++)
    {
      unsigned char c = (unsigned char) *s;
      if (c == '\r') fputs ("\\r", stderr);
      else if (c == '\n') fputs ("\\n", stderr);
      else if (c == '\t') fputs ("\\t", stderr);
      else if (c == '\\') fputs ("\\\\", stderr);
      else if (c == '"') fputs ("\\\"", stderr);
      else if (c < 0x20 || c > 0x7e) fprintf (stderr, "\\x%02X", c);
      else fputc (c, stderr);
    }
}

/* Quoted, escaped string or NULL.  */
HELPER void put_str (const char *s)
{
  if (s == NULL)
    fputs ("NULL", stderr);
  else
    {
      fputc ('"', stderr);
      put_esc (s);
      fputc ('"', stderr);
    }
}

HELPER const char *status_name (int st)
{
  switch (st)
    {
    case OSMTPD_STATUS_OK: return "OK";
    case OSMTPD_STATUS_TEMPFAIL: return "TEMPFAIL";
    case OSMTPD_STATUS_PERMFAIL: return "PERMFAIL";
    default: return "INVALID";
    }
}

HELPER void put_phase (int phase)
{
  if (phase >= 0 && phase < NPHASES)
    fputs (phase_names[phase], stderr);
  else
    fprintf (stderr, "phase(%d)", phase);
}

/* 192.0.2.1:25, [2001:db8::1]:25, unix("path"), unspec, family(N).  */
HELPER void put_addr (const struct sockaddr_storage *ss)
{
  char buf[INET6_ADDRSTRLEN];
  if (ss == NULL)
    {
      fputs ("NULL", stderr);
      return;
    }
  switch (ss->ss_family)
    {
    case AF_UNSPEC:
      fputs ("unspec", stderr);
      break;
    case AF_INET:
      {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;
        inet_ntop (AF_INET, &sin->sin_addr, buf, sizeof buf);
        fprintf (stderr, "%s:%u", buf, (unsigned) ntohs (sin->sin_port));
        break;
      }
    case AF_INET6:
      {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;
        inet_ntop (AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        fprintf (stderr, "[%s]:%u", buf, (unsigned) ntohs (sin6->sin6_port));
        break;
      }
    case AF_UNIX:
      {
        const struct sockaddr_un *sun = (const struct sockaddr_un *) ss;
        char path[sizeof sun->sun_path + 1];
        memcpy (path, sun->sun_path, sizeof sun->sun_path);
        path[sizeof sun->sun_path] = '\0';
        fputs ("unix(", stderr);
        put_str (path);
        fputc (')', stderr);
        break;
      }
    default:
      fprintf (stderr, "family(%d)", (int) ss->ss_family);
    }
}

/* What local_session / local_message hold: the filters only ever store
   strings there, so they are printed as such when `strings` says so.  */
HELPER void put_local (const void *p, int strings)
{
  if (p == NULL)
    fputs ("NULL", stderr);
  else if (strings)
    put_str ((const char *) p);
  else
    fputs ("(set)", stderr);
}

/* Options of the ctx dump.  */
static int show_nsec;           /* tm with nanoseconds */
static int local_strings;       /* local_session/local_message are strings */

/* The context as a filter sees it, on three indented lines.  The token is
   printed for filter requests only: on a report it has no meaning.  */
/* The fields the NEEDs fill, from src to mailfrom (after "src=").  */
HELPER void put_fields (const struct osmtpd_ctx *ctx)
{
  put_addr (&ctx->src);
  fputs (" dst=", stderr);
  put_addr (&ctx->dst);
  fputs (" rdns=", stderr);
  put_str (ctx->rdns);
  fprintf (stderr, " fcrdns=%s identity=", status_name (ctx->fcrdns));
  put_str (ctx->identity);
  fputs (" greeting=", stderr);
  put_str (ctx->greeting.identity);
  fputs (" ciphers=", stderr);
  put_str (ctx->ciphers);
  fprintf (stderr, "\n  msgid=%08" PRIx32 " mailfrom=", ctx->msgid);
  put_str (ctx->mailfrom);
}

HELPER void dump_ctx (const struct osmtpd_ctx *ctx)
{
  int i;
  fprintf (stderr, "  type=%s phase=",
           ctx->type == OSMTPD_TYPE_FILTER ? "filter"
           : ctx->type == OSMTPD_TYPE_REPORT ? "report" : "INVALID");
  put_phase ((int) ctx->phase);
  fprintf (stderr, " version=%d.%d incoming=%d tm=%lld", ctx->version_major,
           ctx->version_minor, ctx->incoming, (long long) ctx->tm.tv_sec);
  if (show_nsec)
    fprintf (stderr, ".%09ld", (long) ctx->tm.tv_nsec);
  fprintf (stderr, " reqid=%016" PRIx64, ctx->reqid);
  if (ctx->type == OSMTPD_TYPE_FILTER)
    fprintf (stderr, " token=%016" PRIx64, ctx->token);
  fputs ("\n  src=", stderr);
  put_fields (ctx);
  fputs (" rcptto=[", stderr);
  if (ctx->rcptto == NULL)
    fputs ("NULL", stderr);
  else
    for (i = 0; ctx->rcptto[i] != NULL; i++)
      {
        if (i > 0)
          fputc (',', stderr);
        put_str (ctx->rcptto[i]);
      }
  fprintf (stderr, "] evpid=%016" PRIx64 " session=", ctx->evpid);
  put_local (ctx->local_session, local_strings);
  fputs (" message=", stderr);
  put_local (ctx->local_message, local_strings);
  fputc ('\n', stderr);
}

/* The fields oncreate_session may rely on with libopensmtpd 0.7: the reqid
   and the initial values; type, phase, version, tm, incoming and token are
   only set after it (reference §3.3).  */
HELPER void dump_new_ctx (const struct osmtpd_ctx *ctx)
{
  fprintf (stderr, "  reqid=%016" PRIx64 " src=", ctx->reqid);
  put_fields (ctx);
  fprintf (stderr, " rcptto=[%s] evpid=%016" PRIx64 " session=",
           ctx->rcptto == NULL ? "NULL" : ctx->rcptto[0] == NULL ? "" : "...",
           ctx->evpid);
  put_local (ctx->local_session, local_strings);
  fputs (" message=", stderr);
  put_local (ctx->local_message, local_strings);
  fputc ('\n', stderr);
}

/* ------------------------------------------------------------ arguments */

/* "key=value" arguments; returns the value of the last `key`, or NULL.  */
HELPER const char *arg (int argc, char **argv, const char *key)
{
  const char *v = NULL;
  size_t n = strlen (key);
  int i;
  for (i = 1; i < argc; i++)
    if (strncmp (argv[i], key, n) == 0 && argv[i][n] == '=')
      v = argv[i] + n + 1;
  return v;
}

/* Is `word` an element of the comma-separated `list`?  */
HELPER int in_list (const char *list, const char *word)
{
  size_t n = strlen (word);
  const char *p = list;
  while (p != NULL && *p != '\0')
    {
      const char *e = strchr (p, ',');
      size_t len = e ? (size_t) (e - p) : strlen (p);
      if (len == n && strncmp (p, word, n) == 0)
        return 1;
      p = e ? e + 1 : NULL;
    }
  return 0;
}

/* osmtpd_need() flags by name (src dst rdns fcrdns identity greeting ciphers
   msgid mailfrom rcptto evpid, all), or a number.  */
HELPER int need_flags (const char *list)
{
  static const struct { const char *name; int flag; } names[] = {
    { "src", OSMTPD_NEED_SRC }, { "dst", OSMTPD_NEED_DST },
    { "rdns", OSMTPD_NEED_RDNS }, { "fcrdns", OSMTPD_NEED_FCRDNS },
    { "identity", OSMTPD_NEED_IDENTITY }, { "greeting", OSMTPD_NEED_GREETING },
    { "ciphers", OSMTPD_NEED_CIPHERS }, { "msgid", OSMTPD_NEED_MSGID },
    { "mailfrom", OSMTPD_NEED_MAILFROM }, { "rcptto", OSMTPD_NEED_RCPTTO },
    { "evpid", OSMTPD_NEED_EVPID },
  };
  int flags = 0;
  size_t i;
  char *end;
  long v = strtol (list, &end, 0);
  if (*list != '\0' && *end == '\0')
    return (int) v;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (in_list (list, "all") || in_list (list, names[i].name))
      flags |= names[i].flag;
  return flags;
}

HELPER void setup_stderr (void)
{
  setvbuf (stderr, NULL, _IOLBF, 0);
}

#endif
