/* The extension test filter: functions of our library beyond what Debian's
   libopensmtpd 0.7 exports, so it is never run with the original (it would
   not even link):
     osmtpd_filter_rewrite            (0.7 defines it but does not export it)
     osmtpd_register_report_greeting  (0.7 declares it, defines nothing)
     osmtpd_register_report_auth      (later libopensmtpd; link-auth report)

   Registers filter helo, ehlo, auth, mail-from, rcpt-to (answered with
   rewrite|TEXT when rewrite.PHASE=TEXT is given, "{}" standing for the
   parameter, else proceed), data-line (echo), and the reports greeting and
   auth in both directions and link-disconnect (smtp-in).
   Other arguments: need=LIST (as f_filter).  */
#include "common.h"

#ifdef HAVE_OSMTPD_AUTH_RESULT
typedef enum osmtpd_auth_result auth_result;
#else
typedef int auth_result;
#endif
#ifndef HAVE_OSMTPD_REPORT_AUTH
/* Not in Debian's header: the prototype of our extension.  */
void osmtpd_register_report_auth (int, void (*) (struct osmtpd_ctx *, const char *,
                                                 auth_result));
#endif

static int g_argc;
static char **g_argv;

static void brief (struct osmtpd_ctx *ctx)
{
  fprintf (stderr, "  type=%s phase=", ctx->type == OSMTPD_TYPE_FILTER ? "filter" : "report");
  put_phase ((int) ctx->phase);
  fprintf (stderr, " version=%d.%d incoming=%d reqid=%016" PRIx64, ctx->version_major,
           ctx->version_minor, ctx->incoming, ctx->reqid);
  if (ctx->type == OSMTPD_TYPE_FILTER)
    fprintf (stderr, " token=%016" PRIx64, ctx->token);
  fputs (" identity=", stderr);
  put_str (ctx->identity);
  fputs (" greeting=", stderr);
  put_str (ctx->greeting.identity);
  fputs (" mailfrom=", stderr);
  put_str (ctx->mailfrom);
  fputc ('\n', stderr);
}

static void rewrite_or_proceed (const char *phase, struct osmtpd_ctx *ctx, const char *param)
{
  char key[32];
  const char *text, *at;
  fprintf (stderr, "filter %s: param=", phase);
  put_str (param);
  fputc ('\n', stderr);
  brief (ctx);
  snprintf (key, sizeof key, "rewrite.%s", phase);
  if ((text = arg (g_argc, g_argv, key)) == NULL)
    osmtpd_filter_proceed (ctx);
  else if ((at = strstr (text, "{}")) == NULL)
    osmtpd_filter_rewrite (ctx, "%s", text);
  else
    osmtpd_filter_rewrite (ctx, "%.*s%s%s", (int) (at - text), text, param, at + 2);
}

#define TEXT_FILTER(fn, label)                                          \
  static void fn (struct osmtpd_ctx *ctx, const char *param)            \
  {                                                                     \
    rewrite_or_proceed (label, ctx, param);                             \
  }
TEXT_FILTER (on_helo, "helo")
TEXT_FILTER (on_ehlo, "ehlo")
TEXT_FILTER (on_auth, "auth")
TEXT_FILTER (on_mailfrom, "mail-from")
TEXT_FILTER (on_rcptto, "rcpt-to")

static void on_dataline (struct osmtpd_ctx *ctx, const char *line)
{
  fputs ("filter data-line: line=", stderr);
  put_str (line);
  fputc ('\n', stderr);
  osmtpd_filter_dataline (ctx, "%s", line);
}

static void greeting (int in, struct osmtpd_ctx *ctx, const char *name)
{
  fprintf (stderr, "report %s link-greeting: name=", in ? "in" : "out");
  put_str (name);
  fputc ('\n', stderr);
  brief (ctx);
}

static void greeting_in (struct osmtpd_ctx *ctx, const char *name)
{
  greeting (1, ctx, name);
}

static void greeting_out (struct osmtpd_ctx *ctx, const char *name)
{
  greeting (0, ctx, name);
}

static void auth (int in, struct osmtpd_ctx *ctx, const char *user, auth_result r)
{
  fprintf (stderr, "report %s link-auth: user=", in ? "in" : "out");
  put_str (user);
  fprintf (stderr, " result=%s\n", r == 0 ? "pass" : r == 1 ? "fail" : r == 2 ? "error"
           : "INVALID");
  brief (ctx);
}

static void auth_in (struct osmtpd_ctx *ctx, const char *user, auth_result r)
{
  auth (1, ctx, user, r);
}

static void auth_out (struct osmtpd_ctx *ctx, const char *user, auth_result r)
{
  auth (0, ctx, user, r);
}

static void on_disconnect (struct osmtpd_ctx *ctx)
{
  fputs ("report in link-disconnect\n", stderr);
  brief (ctx);
}

int main (int argc, char **argv)
{
  const char *v;
  g_argc = argc;
  g_argv = argv;
  setup_stderr ();
  osmtpd_register_filter_helo (on_helo);
  osmtpd_register_filter_ehlo (on_ehlo);
  osmtpd_register_filter_auth (on_auth);
  osmtpd_register_filter_mailfrom (on_mailfrom);
  osmtpd_register_filter_rcptto (on_rcptto);
  osmtpd_register_filter_dataline (on_dataline);
  osmtpd_register_report_greeting (1, greeting_in);
  osmtpd_register_report_greeting (0, greeting_out);
  osmtpd_register_report_auth (1, auth_in);
  osmtpd_register_report_auth (0, auth_out);
  osmtpd_register_report_disconnect (1, on_disconnect);
  if ((v = arg (argc, argv, "need")) != NULL)
    osmtpd_need (need_flags (v));
  fputs ("osmtpd_run\n", stderr);
  osmtpd_run ();
  fputs ("osmtpd_run returned\n", stderr);
  return 0;
}
