/* The general test filter: registers what its arguments say, prints every
   callback's arguments and the context to stderr, and answers each filter
   request as told.  Built against Debian's opensmtpd.h and run with either
   library, so it uses only 0.7's exported API.

   Arguments (key=value, any order):
     filters=LIST     filter phases to register: all, or names (connect,
                      helo, ehlo, starttls, auth, mail-from, rcpt-to, data,
                      data-line, rset, quit, noop, help, wiz, commit)
     reports=LIST     report events: all, EVENT (both directions), in:EVENT,
                      out:EVENT; a leading '-' removes (e.g. all,-link-identify).
                      Events: link-connect link-disconnect link-identify
                      link-tls tx-begin tx-mail tx-rcpt tx-envelope tx-data
                      tx-commit tx-rollback protocol-client protocol-server
                      filter-response timeout
     need=LIST        osmtpd_need() flags (src dst rdns fcrdns identity
                      greeting ciphers msgid mailfrom rcptto evpid, all, or a
                      number); every need= argument is one osmtpd_need call
     answer.PHASE=A   how to answer that filter phase (default proceed):
                        proceed | none | reject:CODE:TEXT
                        reject_enh:CODE:C.S.D:TEXT | disconnect:TEXT
                        disconnect_enh:C.S.D:TEXT | errx:TEXT | err:TEXT
                        register (registers a callback while running)
                      "{}" in TEXT stands for the request's parameter.
     dataline=MODE    echo (default) | tag | double | drop | nl | none |
                      repeat:N
     session=MODE     1: osmtpd_local_session with both callbacks (a string
                      "S<n>" per session); delete: only ondelete
     message=MODE     1: osmtpd_local_message, both ("M<n>"); delete: only ondelete
     oncreate=full    print the whole context in oncreate_session
     conf=1           osmtpd_register_conf
     nsec=1           print ctx->tm with nanoseconds
     ctx=0            do not print the context
     silent=LIST      phases printed not at all (e.g. data-line)
     reverse=1        register in reverse table order
     twice=PHASE      register that filter phase a second time
     incoming=N       the `incoming` value of smtp-in report registrations
                      (default 1)
*/
#include "common.h"

enum { NFILTERS = 15, NREPORTS = 15 };

static const char *const filter_names[NFILTERS] = {
  "connect", "helo", "ehlo", "starttls", "auth", "mail-from", "rcpt-to",
  "data", "data-line", "rset", "quit", "noop", "help", "wiz", "commit"
};
static const char *const report_names[NREPORTS] = {
  "link-connect", "link-disconnect", "link-identify", "link-tls",
  "tx-begin", "tx-mail", "tx-rcpt", "tx-envelope", "tx-data", "tx-commit",
  "tx-rollback", "protocol-client", "protocol-server", "filter-response",
  "timeout"
};

static const char *actions[NFILTERS];
static const char *dataline_mode = "echo";
static int print_ctx = 1;
static const char *silent = "";
static int session_mode, message_mode, oncreate_full;
static int nsessions, nmessages;

static int silenced (const char *what)
{
  return in_list (silent, what);
}

/* "filter mail-from:" / "report in tx-mail:" */
static void head (const char *kind, int incoming, const char *what)
{
  if (incoming < 0)
    fprintf (stderr, "%s %s:", kind, what);
  else
    fprintf (stderr, "%s %s %s:", kind, incoming ? "in" : "out", what);
}

static void tail (struct osmtpd_ctx *ctx)
{
  fputc ('\n', stderr);
  if (print_ctx)
    dump_ctx (ctx);
}

static void on_noop_late (struct osmtpd_ctx *ctx)
{
  UNUSED (ctx);
}

/* Formats TEXT with "{}" replaced by the parameter: several variadic
   arguments of different types go through the library's printf.  */
#define WITH_TEXT(call_prefix, text, param)                                 \
  do {                                                                      \
    const char *at_ = strstr ((text), "{}");                                \
    if (at_ == NULL)                                                        \
      call_prefix "%s", (text));                                            \
    else                                                                    \
      call_prefix "%.*s%s%s", (int) (at_ - (text)), (text),                 \
                  (param) ? (param) : "(none)", at_ + 2);                   \
  } while (0)

static void answer (struct osmtpd_ctx *ctx, int phase, const char *param)
{
  const char *a = actions[phase] ? actions[phase] : "proceed";
  int code, c, s, d, n;

  if (strcmp (a, "proceed") == 0)
    osmtpd_filter_proceed (ctx);
  else if (strcmp (a, "none") == 0)
    ;
  else if (sscanf (a, "reject_enh:%d:%d.%d.%d:%n", &code, &c, &s, &d, &n) == 4)
    {
      const char *t = a + n;
#define CALL osmtpd_filter_reject_enh (ctx, code, c, s, d,
      WITH_TEXT (CALL, t, param);
#undef CALL
    }
  else if (sscanf (a, "reject:%d:%n", &code, &n) == 1)
    {
      const char *t = a + n;
#define CALL osmtpd_filter_reject (ctx, code,
      WITH_TEXT (CALL, t, param);
#undef CALL
    }
  else if (sscanf (a, "disconnect_enh:%d.%d.%d:%n", &c, &s, &d, &n) == 3)
    {
      const char *t = a + n;
#define CALL osmtpd_filter_disconnect_enh (ctx, c, s, d,
      WITH_TEXT (CALL, t, param);
#undef CALL
    }
  else if (strncmp (a, "disconnect:", 11) == 0)
    {
      const char *t = a + 11;
#define CALL osmtpd_filter_disconnect (ctx,
      WITH_TEXT (CALL, t, param);
#undef CALL
    }
  else if (strncmp (a, "errx:", 5) == 0)
    osmtpd_errx (3, "%s", a + 5);
  else if (strncmp (a, "err:", 4) == 0)
    {
      errno = ENOENT;
      osmtpd_err (4, "%s", a + 4);
    }
  else if (strcmp (a, "register") == 0)
    osmtpd_register_filter_noop (on_noop_late);
  else
    {
      fprintf (stderr, "test filter: bad action %s\n", a);
      exit (2);
    }
}

/* ------------------------------------------------------------ filters */

static void on_connect (struct osmtpd_ctx *ctx, const char *rdns,
                        struct sockaddr_storage *src)
{
  enum { P = 0 };
  if (!silenced ("connect"))
    {
      head ("filter", -1, "connect");
      fputs (" rdns=", stderr);
      put_str (rdns);
      fputs (" src=", stderr);
      put_addr (src);
      tail (ctx);
    }
  answer (ctx, P, rdns);
}

#define FILTER_TEXT(fn, idx, label)                                      \
  static void fn (struct osmtpd_ctx *ctx, const char *param)             \
  {                                                                      \
    if (!silenced (label))                                               \
      {                                                                  \
        head ("filter", -1, label);                                      \
        fputs (" param=", stderr);                                       \
        put_str (param);                                                 \
        tail (ctx);                                                      \
      }                                                                  \
    answer (ctx, idx, param);                                            \
  }
#define FILTER_PLAIN(fn, idx, label)                                     \
  static void fn (struct osmtpd_ctx *ctx)                                \
  {                                                                      \
    if (!silenced (label))                                               \
      {                                                                  \
        head ("filter", -1, label);                                      \
        tail (ctx);                                                      \
      }                                                                  \
    answer (ctx, idx, NULL);                                             \
  }

FILTER_TEXT (on_helo, 1, "helo")
FILTER_TEXT (on_ehlo, 2, "ehlo")
FILTER_PLAIN (on_starttls, 3, "starttls")
FILTER_TEXT (on_auth, 4, "auth")
FILTER_TEXT (on_mailfrom, 5, "mail-from")
FILTER_TEXT (on_rcptto, 6, "rcpt-to")
FILTER_PLAIN (on_data, 7, "data")
FILTER_PLAIN (on_rset, 9, "rset")
FILTER_PLAIN (on_quit, 10, "quit")
FILTER_PLAIN (on_noop, 11, "noop")
FILTER_PLAIN (on_help, 12, "help")
FILTER_PLAIN (on_wiz, 13, "wiz")
FILTER_PLAIN (on_commit, 14, "commit")

static void on_dataline (struct osmtpd_ctx *ctx, const char *line)
{
  const char *m = dataline_mode;
  int last = strcmp (line, ".") == 0;
  int i, n;

  if (!silenced ("data-line"))
    {
      head ("filter", -1, "data-line");
      fputs (" line=", stderr);
      put_str (line);
      tail (ctx);
    }
  if (strncmp (actions[8] ? actions[8] : "", "errx:", 5) == 0)
    answer (ctx, 8, line);
  if (strcmp (m, "none") == 0)
    return;
  if (last || strcmp (m, "echo") == 0)
    osmtpd_filter_dataline (ctx, "%s", line);
  else if (strcmp (m, "tag") == 0)
    {
      if (strncmp (line, "Subject: ", 9) == 0)
        osmtpd_filter_dataline (ctx, "Subject: [tagged] %s", line + 9);
      else
        osmtpd_filter_dataline (ctx, "%s", line);
    }
  else if (strcmp (m, "double") == 0)
    {
      osmtpd_filter_dataline (ctx, "%s", line);
      osmtpd_filter_dataline (ctx, "%s", line);
    }
  else if (strcmp (m, "drop") == 0)
    {
      if (strstr (line, "DROP") == NULL)
        osmtpd_filter_dataline (ctx, "%s", line);
    }
  else if (strcmp (m, "nl") == 0)
    {
      if (strncmp (line, "Subject:", 8) == 0)
        osmtpd_filter_dataline (ctx, "X-Test: one\nX-Test: two|%d", 2);
      osmtpd_filter_dataline (ctx, "%s", line);
    }
  else if (sscanf (m, "repeat:%d", &n) == 1)
    {
      for (i = 0; i < n; i++)
        osmtpd_filter_dataline (ctx, "%s [%d]", line, i);
    }
  else
    {
      fprintf (stderr, "test filter: bad dataline mode %s\n", m);
      exit (2);
    }
}

/* ------------------------------------------------------------ reports */

#define REPORT_BOTH(fn, label, params, body, args)                       \
  static void fn##_dir (int incoming, struct osmtpd_ctx *ctx params)     \
  {                                                                      \
    if (silenced (label))                                                \
      return;                                                            \
    head ("report", incoming, label);                                    \
    body;                                                                \
    tail (ctx);                                                          \
  }                                                                      \
  static void fn##_in (struct osmtpd_ctx *ctx params)                    \
  {                                                                      \
    fn##_dir (1, ctx args);                                              \
  }                                                                      \
  static void fn##_out (struct osmtpd_ctx *ctx params)                   \
  {                                                                      \
    fn##_dir (0, ctx args);                                              \
  }
#define P(...) , __VA_ARGS__

REPORT_BOTH (rep_connect, "link-connect",
             P (const char *rdns, enum osmtpd_status fcrdns,
                struct sockaddr_storage *src, struct sockaddr_storage *dst),
             {
               fputs (" rdns=", stderr);
               put_str (rdns);
               fprintf (stderr, " fcrdns=%s src=", status_name (fcrdns));
               put_addr (src);
               fputs (" dst=", stderr);
               put_addr (dst);
             },
             P (rdns, fcrdns, src, dst))
REPORT_BOTH (rep_disconnect, "link-disconnect", , {}, )
REPORT_BOTH (rep_identify, "link-identify", P (const char *identity),
             { fputs (" identity=", stderr); put_str (identity); },
             P (identity))
REPORT_BOTH (rep_tls, "link-tls", P (const char *ciphers),
             { fputs (" ciphers=", stderr); put_str (ciphers); },
             P (ciphers))
REPORT_BOTH (rep_begin, "tx-begin", P (uint32_t msgid),
             { fprintf (stderr, " msgid=%08" PRIx32, msgid); }, P (msgid))
REPORT_BOTH (rep_mail, "tx-mail",
             P (uint32_t msgid, const char *addr, enum osmtpd_status st),
             {
               fprintf (stderr, " msgid=%08" PRIx32 " address=", msgid);
               put_str (addr);
               fprintf (stderr, " status=%s", status_name (st));
             },
             P (msgid, addr, st))
REPORT_BOTH (rep_rcpt, "tx-rcpt",
             P (uint32_t msgid, const char *addr, enum osmtpd_status st),
             {
               fprintf (stderr, " msgid=%08" PRIx32 " address=", msgid);
               put_str (addr);
               fprintf (stderr, " status=%s", status_name (st));
             },
             P (msgid, addr, st))
REPORT_BOTH (rep_envelope, "tx-envelope", P (uint32_t msgid, uint64_t evpid),
             {
               fprintf (stderr, " msgid=%08" PRIx32 " evpid=%016" PRIx64,
                        msgid, evpid);
             },
             P (msgid, evpid))
REPORT_BOTH (rep_data, "tx-data", P (uint32_t msgid, enum osmtpd_status st),
             {
               fprintf (stderr, " msgid=%08" PRIx32 " status=%s", msgid,
                        status_name (st));
             },
             P (msgid, st))
REPORT_BOTH (rep_commit, "tx-commit", P (uint32_t msgid, size_t size),
             { fprintf (stderr, " msgid=%08" PRIx32 " size=%zu", msgid, size); },
             P (msgid, size))
REPORT_BOTH (rep_rollback, "tx-rollback", P (uint32_t msgid),
             { fprintf (stderr, " msgid=%08" PRIx32, msgid); }, P (msgid))
REPORT_BOTH (rep_client, "protocol-client", P (const char *line),
             { fputs (" line=", stderr); put_str (line); }, P (line))
REPORT_BOTH (rep_server, "protocol-server", P (const char *line),
             { fputs (" line=", stderr); put_str (line); }, P (line))
REPORT_BOTH (rep_response, "filter-response", P (const char *line),
             { fputs (" line=", stderr); put_str (line); }, P (line))
REPORT_BOTH (rep_timeout, "timeout", , {}, )

/* ------------------------------------------------------------ lifetimes */

static void *session_create (struct osmtpd_ctx *ctx)
{
  char buf[32];
  snprintf (buf, sizeof buf, "S%d", ++nsessions);
  fprintf (stderr, "session create %s:\n", buf);
  if (oncreate_full)
    dump_ctx (ctx);
  else
    dump_new_ctx (ctx);
  return strdup (buf);
}

static void session_delete (struct osmtpd_ctx *ctx, void *local)
{
  fputs ("session delete ", stderr);
  put_local (local, 1);
  fprintf (stderr, ": reqid=%016" PRIx64 "\n", ctx->reqid);
  free (local);
}

static void *message_create (struct osmtpd_ctx *ctx)
{
  char buf[32];
  snprintf (buf, sizeof buf, "M%d", ++nmessages);
  fprintf (stderr, "message create %s:\n", buf);
  if (print_ctx)
    dump_ctx (ctx);
  return strdup (buf);
}

/* ondelete_message runs before the message's fields are cleared.  */
static void message_delete (struct osmtpd_ctx *ctx, void *local)
{
  int n = 0;
  fputs ("message delete ", stderr);
  put_local (local, 1);
  fprintf (stderr, ": reqid=%016" PRIx64 " msgid=%08" PRIx32 " mailfrom=", ctx->reqid,
           ctx->msgid);
  put_str (ctx->mailfrom);
  while (ctx->rcptto != NULL && ctx->rcptto[n] != NULL)
    n++;
  fprintf (stderr, " rcpts=%d\n", n);
  free (local);
}

static void on_conf (const char *key, const char *value)
{
  fputs ("conf ", stderr);
  put_str (key);
  fputc (' ', stderr);
  put_str (value);
  fputc ('\n', stderr);
}

/* ------------------------------------------------------------ main */

static void register_filter (int i)
{
  switch (i)
    {
    case 0: osmtpd_register_filter_connect (on_connect); break;
    case 1: osmtpd_register_filter_helo (on_helo); break;
    case 2: osmtpd_register_filter_ehlo (on_ehlo); break;
    case 3: osmtpd_register_filter_starttls (on_starttls); break;
    case 4: osmtpd_register_filter_auth (on_auth); break;
    case 5: osmtpd_register_filter_mailfrom (on_mailfrom); break;
    case 6: osmtpd_register_filter_rcptto (on_rcptto); break;
    case 7: osmtpd_register_filter_data (on_data); break;
    case 8: osmtpd_register_filter_dataline (on_dataline); break;
    case 9: osmtpd_register_filter_rset (on_rset); break;
    case 10: osmtpd_register_filter_quit (on_quit); break;
    case 11: osmtpd_register_filter_noop (on_noop); break;
    case 12: osmtpd_register_filter_help (on_help); break;
    case 13: osmtpd_register_filter_wiz (on_wiz); break;
    case 14: osmtpd_register_filter_commit (on_commit); break;
    }
}

/* The value passed for smtp-in (incoming=N: a value 0.7 refuses).  */
static int incoming_value = 1;
#define REG(fn, f) osmtpd_register_report_##fn (in ? incoming_value : 0, in ? f##_in : f##_out)
static void register_report (int i, int in)
{
  switch (i)
    {
    case 0: REG (connect, rep_connect); break;
    case 1: REG (disconnect, rep_disconnect); break;
    case 2: REG (identify, rep_identify); break;
    case 3: REG (tls, rep_tls); break;
    case 4: REG (begin, rep_begin); break;
    case 5: REG (mail, rep_mail); break;
    case 6: REG (rcpt, rep_rcpt); break;
    case 7: REG (envelope, rep_envelope); break;
    case 8: REG (data, rep_data); break;
    case 9: REG (commit, rep_commit); break;
    case 10: REG (rollback, rep_rollback); break;
    case 11: REG (client, rep_client); break;
    case 12: REG (server, rep_server); break;
    case 13: REG (response, rep_response); break;
    case 14: REG (timeout, rep_timeout); break;
    }
}

static int index_of (const char *const *names, int n, const char *name,
                     size_t len)
{
  int i;
  for (i = 0; i < n; i++)
    if (strlen (names[i]) == len && strncmp (names[i], name, len) == 0)
      return i;
  fprintf (stderr, "test filter: unknown name %.*s\n", (int) len, name);
  exit (2);
}

/* reports=LIST into want[dir][event], dir 0 out, 1 in.  */
static void parse_reports (const char *list, int want[2][NREPORTS])
{
  const char *p = list;
  while (p != NULL && *p != '\0')
    {
      const char *e = strchr (p, ',');
      size_t len = e ? (size_t) (e - p) : strlen (p);
      int on = 1, dirs = 3, i;
      if (*p == '-')
        on = 0, p++, len--;
      if (len > 3 && strncmp (p, "in:", 3) == 0)
        dirs = 2, p += 3, len -= 3;
      else if (len > 4 && strncmp (p, "out:", 4) == 0)
        dirs = 1, p += 4, len -= 4;
      for (i = 0; i < NREPORTS; i++)
        if ((len == 3 && strncmp (p, "all", 3) == 0)
            || i == index_of (report_names, NREPORTS, p, len))
          {
            if (dirs & 2)
              want[1][i] = on;
            if (dirs & 1)
              want[0][i] = on;
            if (len != 3 || strncmp (p, "all", 3) != 0)
              break;
          }
      p = e ? e + 1 : NULL;
    }
}

int main (int argc, char **argv)
{
  const char *v;
  int want_f[NFILTERS] = { 0 }, want_r[2][NREPORTS] = { { 0 } };
  int i, k, reverse;

  setup_stderr ();
  if ((v = arg (argc, argv, "filters")) != NULL)
    for (i = 0; i < NFILTERS; i++)
      want_f[i] = in_list (v, "all") || in_list (v, filter_names[i]);
  if ((v = arg (argc, argv, "reports")) != NULL)
    parse_reports (v, want_r);
  for (i = 0; i < NFILTERS; i++)
    {
      char key[32];
      snprintf (key, sizeof key, "answer.%s", filter_names[i]);
      actions[i] = arg (argc, argv, key);
    }
  if ((v = arg (argc, argv, "dataline")) != NULL)
    dataline_mode = v;
  if ((v = arg (argc, argv, "silent")) != NULL)
    silent = v;
  if ((v = arg (argc, argv, "ctx")) != NULL)
    print_ctx = atoi (v);
  if ((v = arg (argc, argv, "nsec")) != NULL)
    show_nsec = atoi (v);
  v = arg (argc, argv, "session");
  session_mode = v == NULL ? 0 : strcmp (v, "delete") == 0 ? 2 : 1;
  v = arg (argc, argv, "message");
  message_mode = v == NULL ? 0 : strcmp (v, "delete") == 0 ? 2 : 1;
  v = arg (argc, argv, "oncreate");
  oncreate_full = v != NULL && strcmp (v, "full") == 0;
  if ((v = arg (argc, argv, "incoming")) != NULL)
    incoming_value = atoi (v);
  v = arg (argc, argv, "reverse");
  reverse = v != NULL && atoi (v);
  local_strings = 1;

  if (arg (argc, argv, "conf") != NULL)
    osmtpd_register_conf (on_conf);
  for (k = 0; k < NFILTERS; k++)
    {
      i = reverse ? NFILTERS - 1 - k : k;
      if (want_f[i])
        register_filter (i);
    }
  for (k = 0; k < 2 * NREPORTS; k++)
    {
      int in = reverse ? k >= NREPORTS : k < NREPORTS;
      i = reverse ? NREPORTS - 1 - k % NREPORTS : k % NREPORTS;
      if (want_r[in][i])
        register_report (i, in);
    }
  for (i = 1; i < argc; i++)
    if (strncmp (argv[i], "need=", 5) == 0)
      osmtpd_need (need_flags (argv[i] + 5));
  if (session_mode == 1)
    osmtpd_local_session (session_create, session_delete);
  else if (session_mode == 2)
    osmtpd_local_session (NULL, session_delete);
  if (message_mode == 1)
    osmtpd_local_message (message_create, message_delete);
  else if (message_mode == 2)
    osmtpd_local_message (NULL, message_delete);
  if ((v = arg (argc, argv, "twice")) != NULL)
    {
      fprintf (stderr, "registering filter %s again\n", v);
      register_filter (index_of (filter_names, NFILTERS, v, strlen (v)));
    }

  fputs ("osmtpd_run\n", stderr);
  osmtpd_run ();
  fputs ("osmtpd_run returned\n", stderr);
  return 0;
}
