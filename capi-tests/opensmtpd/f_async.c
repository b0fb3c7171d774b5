/* The asynchronous test filter: answers from its own libevent timers, as
   filter-dnsbl answers from libasr's events.  The timers are added to
   libevent's global base (evtimer_set + event_add, no base argument), which
   osmtpd_run creates with event_init() and dispatches: if the library ran
   any other loop, no answer would ever come.

     mail-from   proceed DELAY ms later (the n-th session: n * DELAY, so
                 that answers of several sessions come in a fixed order)
     rcpt-to     proceed at once
     data-line   lines are kept and echoed DELAY ms after the first one
     commit      proceed DELAY ms later
     reports     protocol-client, protocol-server and link-disconnect are
                 printed: a report between a request and its late answer
                 must not change the token the answer carries

   At link-disconnect (ondelete_session) pending timers are cancelled.
   The timer callback prints the context the answer is made from.

   Arguments: delay=MS (default 50).  */
#include "common.h"
#include <event.h>

struct session;

struct pending {
  struct event ev;
  struct session *s;
  struct osmtpd_ctx *ctx;
  const char *what;             /* "proceed" or "data-lines" */
  int armed;
};

struct session {
  int n;                        /* 1 for the first session, ... */
  struct pending answer;        /* the one late proceed */
  struct pending lines;         /* the late data lines */
  char **queue;
  size_t nqueue;
};

static int delay_ms = 50;
static int nsessions;

static void put_ctx_brief (const struct osmtpd_ctx *ctx)
{
  fprintf (stderr, "reqid=%016" PRIx64 " token=%016" PRIx64 " type=%s phase=",
           ctx->reqid, ctx->token,
           ctx->type == OSMTPD_TYPE_FILTER ? "filter" : "report");
  put_phase ((int) ctx->phase);
  fprintf (stderr, " version=%d.%d", ctx->version_major, ctx->version_minor);
}

static void fire (int fd, short what, void *arg)
{
  struct pending *p = arg;
  struct session *s = p->s;
  size_t i;

  UNUSED (fd);
  UNUSED (what);
  p->armed = 0;
  fprintf (stderr, "timer S%d %s: ", s->n, p->what);
  put_ctx_brief (p->ctx);
  fputc ('\n', stderr);
  if (p == &s->answer)
    osmtpd_filter_proceed (p->ctx);
  else
    {
      for (i = 0; i < s->nqueue; i++)
        {
          osmtpd_filter_dataline (p->ctx, "%s", s->queue[i]);
          free (s->queue[i]);
        }
      s->nqueue = 0;
    }
}

static void later (struct pending *p, struct osmtpd_ctx *ctx, int ms)
{
  struct timeval tv;
  if (p->armed)
    {
      fprintf (stderr, "test filter: a second late answer for one session\n");
      exit (2);
    }
  p->ctx = ctx;
  p->armed = 1;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  evtimer_set (&p->ev, fire, p);
  if (event_add (&p->ev, &tv) != 0)
    {
      fprintf (stderr, "test filter: event_add failed\n");
      exit (2);
    }
}

static void request (const char *phase, struct osmtpd_ctx *ctx, const char *param)
{
  fprintf (stderr, "filter %s:", phase);
  if (param != NULL)
    {
      fputs (" param=", stderr);
      put_str (param);
    }
  fputs (" ", stderr);
  put_ctx_brief (ctx);
  fputc ('\n', stderr);
}

static void on_mailfrom (struct osmtpd_ctx *ctx, const char *addr)
{
  struct session *s = ctx->local_session;
  request ("mail-from", ctx, addr);
  later (&s->answer, ctx, delay_ms * s->n);
}

static void on_rcptto (struct osmtpd_ctx *ctx, const char *addr)
{
  request ("rcpt-to", ctx, addr);
  osmtpd_filter_proceed (ctx);
}

static void on_dataline (struct osmtpd_ctx *ctx, const char *line)
{
  struct session *s = ctx->local_session;
  char **q;
  request ("data-line", ctx, line);
  if ((q = realloc (s->queue, (s->nqueue + 1) * sizeof *q)) == NULL
      || (q[s->nqueue] = strdup (line)) == NULL)
    {
      fprintf (stderr, "test filter: out of memory\n");
      exit (2);
    }
  s->queue = q;
  s->nqueue++;
  if (!s->lines.armed)
    later (&s->lines, ctx, delay_ms * s->n);
}

static void on_commit (struct osmtpd_ctx *ctx)
{
  struct session *s = ctx->local_session;
  request ("commit", ctx, NULL);
  later (&s->answer, ctx, delay_ms * s->n);
}

static void report (const char *what, struct osmtpd_ctx *ctx, const char *line)
{
  fprintf (stderr, "report %s:", what);
  if (line != NULL)
    {
      fputs (" line=", stderr);
      put_str (line);
    }
  fprintf (stderr, " reqid=%016" PRIx64 "\n", ctx->reqid);
}

static void on_client (struct osmtpd_ctx *ctx, const char *line)
{
  report ("protocol-client", ctx, line);
}

static void on_server (struct osmtpd_ctx *ctx, const char *line)
{
  report ("protocol-server", ctx, line);
}

static void on_disconnect (struct osmtpd_ctx *ctx)
{
  report ("link-disconnect", ctx, NULL);
}

static void *session_create (struct osmtpd_ctx *ctx)
{
  struct session *s = calloc (1, sizeof *s);
  if (s == NULL)
    {
      fprintf (stderr, "test filter: out of memory\n");
      exit (2);
    }
  s->n = ++nsessions;
  s->answer.s = s->lines.s = s;
  s->answer.what = "proceed";
  s->lines.what = "data-lines";
  fprintf (stderr, "session create S%d: reqid=%016" PRIx64 "\n", s->n, ctx->reqid);
  return s;
}

static void session_delete (struct osmtpd_ctx *ctx, void *arg)
{
  struct session *s = arg;
  int cancelled = 0;
  size_t i;
  if (s->answer.armed)
    event_del (&s->answer.ev), cancelled++;
  if (s->lines.armed)
    event_del (&s->lines.ev), cancelled++;
  fprintf (stderr, "session delete S%d: reqid=%016" PRIx64 ", %d timer(s) cancelled\n",
           s->n, ctx->reqid, cancelled);
  for (i = 0; i < s->nqueue; i++)
    free (s->queue[i]);
  free (s->queue);
  free (s);
}

int main (int argc, char **argv)
{
  const char *v;
  setup_stderr ();
  if ((v = arg (argc, argv, "delay")) != NULL)
    delay_ms = atoi (v);
  osmtpd_register_filter_mailfrom (on_mailfrom);
  osmtpd_register_filter_rcptto (on_rcptto);
  osmtpd_register_filter_dataline (on_dataline);
  osmtpd_register_filter_commit (on_commit);
  osmtpd_register_report_client (1, on_client);
  osmtpd_register_report_server (1, on_server);
  osmtpd_register_report_disconnect (1, on_disconnect);
  osmtpd_local_session (session_create, session_delete);
  fputs ("osmtpd_run\n", stderr);
  osmtpd_run ();
  fputs ("osmtpd_run returned\n", stderr);
  return 0;
}
