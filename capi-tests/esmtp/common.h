/* Shared helpers for the libESMTP C-API tests (header-only: each test is a
   single translation unit compiled as  cc t_x.c -lesmtp).

   Everything printed must be deterministic: handles are printed by the
   names the test registered for them (m1, r2, ...), never as pointers.  */
#ifndef CAPI_COMMON_H
#define CAPI_COMMON_H

#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>
#include <time.h>
#include <signal.h>
#include <auth-client.h>
#include <libesmtp.h>

#define UNUSED(x) ((void) (x))
/* Helpers are static; not every test uses every one.  */
#define HELPER static __attribute__ ((unused))

/* Fixed Date (2001-09-09 01:46:40 UTC; the runner sets TZ=UTC) and
   Message-Id so that server transcripts are reproducible.  */
HELPER const time_t fixed_date = 1000000000;
#define FIXED_MSGID "fixed-id.1@client.test"

/* ------------------------------------------------------------ printing */

/* Print bytes with \r \n \t \\ \" and \xHH escapes.  */
HELPER void put_esc (const char *s, int len)
{
  int i;
  for (i = 0; i < len; i++)
    {
      unsigned char c = (unsigned char) s[i];
      if (c == '\r') fputs ("\\r", stdout);
      else if (c == '\n') fputs ("\\n", stdout);
      else if (c == '\t') fputs ("\\t", stdout);
      else if (c == '\\') fputs ("\\\\", stdout);
      else if (c == '"') fputs ("\\\"", stdout);
      else if (c < 0x20 || c > 0x7e) printf ("\\x%02X", c);
      else putchar (c);
    }
}

/* Quoted, escaped string or NULL.  */
HELPER void put_str (const char *s)
{
  if (s == NULL)
    fputs ("NULL", stdout);
  else
    {
      putchar ('"');
      put_esc (s, (int) strlen (s));
      putchar ('"');
    }
}

HELPER const char *errtext (int e)
{
  static char buf[256];
  char *p = smtp_strerror (e, buf, sizeof buf);
  return p ? p : "(strerror returned NULL)";
}

/* "label: errno=N (text)" */
HELPER void print_errno (const char *label)
{
  int e = smtp_errno ();
  printf ("%s: errno=%d (%s)\n", label, e, errtext (e));
}

/* ------------------------------------------------------ handle registry */

#define MAXREG 512
static struct { const void *p; char name[24]; } regs[MAXREG];
static int nregs;

HELPER void reg (const void *p, const char *fmt, ...)
{
  va_list ap;
  if (p == NULL || nregs >= MAXREG)
    return;
  regs[nregs].p = p;
  va_start (ap, fmt);
  vsnprintf (regs[nregs].name, sizeof regs[nregs].name, fmt, ap);
  va_end (ap);
  nregs++;
}

HELPER const char *rname (const void *p)
{
  int i;
  if (p == NULL)
    return "NULL";
  for (i = nregs - 1; i >= 0; i--)
    if (regs[i].p == p)
      return regs[i].name;
  return "?unregistered";
}

/* ------------------------------------------------------------ options */

/* Test programs take "key=value" words after argv[1].  */
static int g_argc;
static char **g_argv;

HELPER const char *opt_str (const char *key, const char *def)
{
  int i;
  size_t n = strlen (key);
  for (i = 2; i < g_argc; i++)
    if (strncmp (g_argv[i], key, n) == 0 && g_argv[i][n] == '=')
      return g_argv[i] + n + 1;
  return def;
}

HELPER long opt_int (const char *key, long def)
{
  const char *v = opt_str (key, NULL);
  return v ? strtol (v, NULL, 0) : def;
}

/* ------------------------------------------------------------ statuses */

HELPER void print_status (const char *label, const smtp_status_t *st)
{
  printf ("%s: ", label);
  if (st == NULL)
    {
      printf ("NULL\n");
      return;
    }
  printf ("code=%d text=", st->code);
  if (st->text != NULL && strlen (st->text) > 300)
    {
      /* keep huge replies readable */
      putchar ('"');
      put_esc (st->text, 60);
      printf ("\"... [%zu bytes]", strlen (st->text));
    }
  else
    put_str (st->text);
  printf (" enh=%d.%d.%d\n", st->enh_class, st->enh_subject, st->enh_detail);
}

HELPER void print_rcpt_cb (smtp_recipient_t r, const char *mailbox, void *arg)
{
  char label[64];
  UNUSED (arg);
  printf ("  recipient %s mailbox=", rname (r));
  put_str (mailbox);
  printf (" complete=%d\n", smtp_recipient_check_complete (r));
  snprintf (label, sizeof label, "    status %s", rname (r));
  print_status (label, smtp_recipient_status (r));
}

HELPER void print_msg_cb (smtp_message_t m, void *arg)
{
  char label[64];
  UNUSED (arg);
  printf (" message %s\n", rname (m));
  snprintf (label, sizeof label, "  reverse_path_status %s", rname (m));
  print_status (label, smtp_reverse_path_status (m));
  snprintf (label, sizeof label, "  transfer_status %s", rname (m));
  print_status (label, smtp_message_transfer_status (m));
  smtp_enumerate_recipients (m, print_rcpt_cb, NULL);
}

/* Dump every status of every message and recipient of the session.  */
HELPER void print_all_statuses (smtp_session_t s)
{
  printf ("statuses:\n");
  smtp_enumerate_messages (s, print_msg_cb, NULL);
}

/* ------------------------------------------------------------ events */

HELPER const char *event_name (int ev)
{
  switch (ev)
    {
    case SMTP_EV_CONNECT: return "CONNECT";
    case SMTP_EV_MAILSTATUS: return "MAILSTATUS";
    case SMTP_EV_RCPTSTATUS: return "RCPTSTATUS";
    case SMTP_EV_MESSAGEDATA: return "MESSAGEDATA";
    case SMTP_EV_MESSAGESENT: return "MESSAGESENT";
    case SMTP_EV_DISCONNECT: return "DISCONNECT";
    case SMTP_EV_SYNTAXWARNING: return "SYNTAXWARNING";
    case SMTP_EV_ETRNSTATUS: return "ETRNSTATUS";
    case SMTP_EV_EXTNA_DSN: return "EXTNA_DSN";
    case SMTP_EV_EXTNA_8BITMIME: return "EXTNA_8BITMIME";
    case SMTP_EV_EXTNA_STARTTLS: return "EXTNA_STARTTLS";
    case SMTP_EV_EXTNA_ETRN: return "EXTNA_ETRN";
    case SMTP_EV_EXTNA_CHUNKING: return "EXTNA_CHUNKING";
    case SMTP_EV_EXTNA_BINARYMIME: return "EXTNA_BINARYMIME";
    case SMTP_EV_DELIVERBY_EXPIRED: return "DELIVERBY_EXPIRED";
    case SMTP_EV_WEAK_CIPHER: return "WEAK_CIPHER";
    case SMTP_EV_STARTTLS_OK: return "STARTTLS_OK";
    case SMTP_EV_INVALID_PEER_CERTIFICATE: return "INVALID_PEER_CERTIFICATE";
    case SMTP_EV_NO_PEER_CERTIFICATE: return "NO_PEER_CERTIFICATE";
    case SMTP_EV_WRONG_PEER_CERTIFICATE: return "WRONG_PEER_CERTIFICATE";
    case SMTP_EV_NO_CLIENT_CERTIFICATE: return "NO_CLIENT_CERTIFICATE";
    case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE: return "UNUSABLE_CLIENT_CERTIFICATE";
    case SMTP_EV_UNUSABLE_CA_LIST: return "UNUSABLE_CA_LIST";
    default: return "UNKNOWN";
    }
}

static int g_event_arg;             /* closure given to smtp_set_eventcb */
static int g_quiet_messagedata;     /* count MESSAGEDATA instead of printing */
static long g_messagedata_count, g_messagedata_bytes;

/* A generated Message-Id has a varying length (time, pid), and so has the
   MESSAGEDATA event for it.  With g_hide_msgid_len (option
   hide_msgid_len=1) MESSAGEDATA lines are held back until the next
   callback; if that is the header monitor (writing=2) showing the
   Message-Id header, the length is hidden.  The library reports the
   event just before it passes the header to the monitor.  */
static int g_hide_msgid_len, g_monitor_silent;
static char g_pending_md[160];

static void flush_pending_md (int hide)
{
  char *p;
  if (g_pending_md[0] == '\0')
    return;
  if (hide && (p = strstr (g_pending_md, " len=")) != NULL)
    strcpy (p, " len=<generated Message-Id>\n");
  fputs (g_pending_md, stdout);
  g_pending_md[0] = '\0';
}

/* Print the int out-parameter's default, then overwrite it if the test
   was given "ev<N>=<value>".  */
HELPER void outparam (int ev, const char *what, int *p)
{
  char key[32];
  const char *v;
  if (p == NULL)
    {
      printf (" %s=NULL-pointer", what);
      return;
    }
  printf (" %s(default)=%d", what, *p);
  snprintf (key, sizeof key, "ev%d", ev);
  if ((v = opt_str (key, NULL)) != NULL)
    {
      *p = (int) strtol (v, NULL, 0);
      printf (" -> set %d", *p);
    }
}

HELPER void event_cb (smtp_session_t s, int ev, void *arg, ...)
{
  va_list ap;
  const char *str;
  void *ptr;
  int i;
  long l;

  flush_pending_md (0);
  if (ev == SMTP_EV_MESSAGEDATA && g_hide_msgid_len)
    {
      va_start (ap, arg);
      ptr = va_arg (ap, smtp_message_t);
      snprintf (g_pending_md, sizeof g_pending_md,
                "event %d %s session=%s arg=%s message=%s len=%d\n", ev,
                event_name (ev), rname (s), arg == &g_event_arg ? "ok" : "WRONG",
                rname (ptr), va_arg (ap, int));
      va_end (ap);
      return;
    }
  if (ev == SMTP_EV_MESSAGEDATA && g_quiet_messagedata)
    {
      va_start (ap, arg);
      (void) va_arg (ap, smtp_message_t);
      g_messagedata_count++;
      g_messagedata_bytes += va_arg (ap, int);
      va_end (ap);
      return;
    }
  printf ("event %d %s session=%s arg=%s", ev, event_name (ev), rname (s),
          arg == &g_event_arg ? "ok" : "WRONG");
  va_start (ap, arg);
  switch (ev)
    {
    case SMTP_EV_MAILSTATUS:
      str = va_arg (ap, const char *);
      printf (" reverse_path=");
      put_str (str);
      printf (" message=%s", rname (va_arg (ap, smtp_message_t)));
      break;
    case SMTP_EV_RCPTSTATUS:
      str = va_arg (ap, const char *);
      printf (" mailbox=");
      put_str (str);
      printf (" recipient=%s", rname (va_arg (ap, smtp_recipient_t)));
      break;
    case SMTP_EV_MESSAGEDATA:
      ptr = va_arg (ap, smtp_message_t);
      printf (" message=%s len=%d", rname (ptr), va_arg (ap, int));
      break;
    case SMTP_EV_MESSAGESENT:
      printf (" message=%s", rname (va_arg (ap, smtp_message_t)));
      break;
    case SMTP_EV_SYNTAXWARNING:
    case SMTP_EV_EXTNA_DSN:
    case SMTP_EV_EXTNA_ETRN:
    case SMTP_EV_EXTNA_CHUNKING:
    case SMTP_EV_NO_PEER_CERTIFICATE:
    case SMTP_EV_NO_CLIENT_CERTIFICATE:
      outparam (ev, "quit_or_ok", va_arg (ap, int *));
      break;
    case SMTP_EV_ETRNSTATUS:
      i = va_arg (ap, int);
      str = va_arg (ap, const char *);
      printf (" option=%d domain=", i);
      put_str (str);
      break;
    case SMTP_EV_EXTNA_STARTTLS:
    case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
    case SMTP_EV_UNUSABLE_CA_LIST:
      ptr = va_arg (ap, void *);
      printf (" ptrarg=%s", ptr ? "non-NULL" : "NULL");
      break;
    case SMTP_EV_DELIVERBY_EXPIRED:
      l = va_arg (ap, long);
      printf (" shortfall=%ld", l);
      outparam (ev, "adjust", va_arg (ap, int *));
      break;
    case SMTP_EV_WEAK_CIPHER:
      i = va_arg (ap, int);
      printf (" bits=%d", i);
      outparam (ev, "ok", va_arg (ap, int *));
      break;
    case SMTP_EV_STARTTLS_OK:
      ptr = va_arg (ap, void *);
      str = va_arg (ap, const char *);
      printf (" ssl=%s cipher=", ptr ? "non-NULL" : "NULL");
      put_str (str);
      printf (" bits=%d", va_arg (ap, int));
      break;
    case SMTP_EV_INVALID_PEER_CERTIFICATE:
      l = va_arg (ap, long);
      printf (" verify_result=%ld", l);
      outparam (ev, "ok", va_arg (ap, int *));
      ptr = va_arg (ap, void *);
      printf (" ssl=%s", ptr ? "non-NULL" : "NULL");
      break;
    case SMTP_EV_WRONG_PEER_CERTIFICATE:
      outparam (ev, "ok", va_arg (ap, int *));
      str = va_arg (ap, const char *);
      printf (" name=");
      put_str (str);
      ptr = va_arg (ap, void *);
      printf (" ssl=%s", ptr ? "non-NULL" : "NULL");
      break;
    default:                    /* CONNECT, DISCONNECT, EXTNA_8BITMIME,
                                   EXTNA_BINARYMIME: no extra arguments */
      break;
    }
  va_end (ap);
  printf ("\n");
}

/* ------------------------------------------------------------ monitor */

/* Writes are printed one block per callback (block boundaries show what
   was pipelined).  How the server's replies are split into reads depends
   on timing, so reads are re-assembled into lines and held back until the
   next write/header callback or the end of the session: the server cannot
   answer a command before it was written, which makes that position
   deterministic (unlike the position relative to event callbacks).  */
#define MON_LINE 4096
HELPER char mon_line[MON_LINE];
static long mon_linelen;            /* may exceed MON_LINE (bytes dropped) */
static char *mon_pend;              /* formatted read lines, not yet printed */
static size_t mon_pendlen, mon_pendcap;

HELPER void mon_append (const char *s, size_t n)
{
  if (mon_pendlen + n + 1 > mon_pendcap)
    {
      mon_pendcap = (mon_pendlen + n + 1) * 2;
      mon_pend = realloc (mon_pend, mon_pendcap);
    }
  memcpy (mon_pend + mon_pendlen, s, n);
  mon_pendlen += n;
  mon_pend[mon_pendlen] = '\0';
}

HELPER void mon_line_done (const char *prefix)
{
  char tmp[MON_LINE * 4 + 128], *p = tmp;
  long i, shown = mon_linelen < MON_LINE ? mon_linelen : MON_LINE;
  if (mon_linelen > 200)
    shown = 60;                     /* keep huge replies readable */
  p += sprintf (p, "%s\"", prefix);
  for (i = 0; i < shown; i++)
    {
      unsigned char c = (unsigned char) mon_line[i];
      if (c == '\r') p += sprintf (p, "\\r");
      else if (c == '\n') p += sprintf (p, "\\n");
      else if (c == '\t') p += sprintf (p, "\\t");
      else if (c == '\\' || c == '"') p += sprintf (p, "\\%c", c);
      else if (c < 0x20 || c > 0x7e) p += sprintf (p, "\\x%02X", c);
      else *p++ = c;
    }
  p += sprintf (p, "\"");
  if (shown < mon_linelen)
    p += sprintf (p, "... [line of %ld bytes]", mon_linelen);
  p += sprintf (p, "\n");
  mon_append (tmp, p - tmp);
  mon_linelen = 0;
}

HELPER void monitor_flush_reads (int final)
{
  if (final && mon_linelen > 0)
    mon_line_done ("monitor R (unterminated): ");
  if (mon_pendlen)
    fputs (mon_pend, stdout);
  mon_pendlen = 0;
}

HELPER void monitor_cb (const char *buf, int len, int writing, void *arg)
{
  int i;
  flush_pending_md (writing == SMTP_CB_HEADERS
                    && strncasecmp (buf, "Message-Id:", 11) == 0);
  if (g_monitor_silent)
    return;
  if (arg != &g_event_arg)
    printf ("monitor: WRONG arg\n");
  if (writing == SMTP_CB_READING)
    {
      for (i = 0; i < len; i++)
        {
          if (mon_linelen < MON_LINE)
            mon_line[mon_linelen] = buf[i];
          mon_linelen++;
          if (buf[i] == '\n')
            mon_line_done ("monitor R: ");
        }
      return;
    }
  monitor_flush_reads (0);
  printf ("monitor %s: \"", writing == SMTP_CB_WRITING ? "W" :
          writing == SMTP_CB_HEADERS ? "H" : "?");
  put_esc (buf, len);
  printf ("\"\n");
}

/* Set smtp_errno() to the sentinel 2 (NOTHING_TO_DO): there is no API to
   clear it, so tests use this to see whether a later call set an error.  */
HELPER void errno_sentinel (void)
{
  static smtp_session_t sentinel_session;
  if (sentinel_session == NULL)
    {
      sentinel_session = smtp_create_session ();
      smtp_set_server (sentinel_session, "127.0.0.1:1");
    }
  smtp_start_session (sentinel_session);
  if (smtp_errno () != SMTP_ERR_NOTHING_TO_DO)
    printf ("!! errno sentinel failed: errno=%d\n", smtp_errno ());
}

/* " errno=N" or " errno=unchanged" (still the sentinel).  */
HELPER void show_errno (void)
{
  int e = smtp_errno ();
  if (e == SMTP_ERR_NOTHING_TO_DO)
    printf (" errno=unchanged\n");
  else
    printf (" errno=%d\n", e);
}

/* Evaluate an int-returning API call, print it, its result and errno.  */
#define CHECK_INT(expr) do { long r_; errno_sentinel (); r_ = (long) (expr); \
    printf ("%s -> %ld", #expr, r_); show_errno (); } while (0)
#define CHECK_PTR(expr) do { const void *p_; errno_sentinel (); p_ = (expr); \
    printf ("%s -> %s", #expr, p_ ? "non-NULL" : "NULL"); show_errno (); } while (0)
#define CHECK_STR(expr) do { const char *p_; errno_sentinel (); p_ = (expr); \
    printf ("%s -> ", #expr); put_str (p_); show_errno (); } while (0)
#define CHECK_VOID(expr) do { errno_sentinel (); expr; \
    printf ("%s -> (void)", #expr); show_errno (); } while (0)

/* ------------------------------------------------------------ setup */

HELPER void init_test (int argc, char **argv)
{
  g_argc = argc;
  g_argv = argv;
  setvbuf (stdout, NULL, _IOLBF, 0);  /* keep output if we crash */
  /* libESMTP does not protect itself against SIGPIPE; whether a write to a
     connection the server closed raises it depends on timing, so the tests
     ignore it like most applications do (the write then fails: EPIPE).  */
  signal (SIGPIPE, SIG_IGN);
}

/* Create a session talking to argv[1] with a fixed local host name and
   the printing event callback.  */
HELPER smtp_session_t new_session (const char *server)
{
  static int nsessions;
  smtp_session_t s = smtp_create_session ();
  reg (s, "s%d", ++nsessions);
  if (s == NULL)
    {
      print_errno ("smtp_create_session failed");
      exit (2);
    }
  if (server != NULL)
    printf ("smtp_set_server=%d\n", smtp_set_server (s, server));
  smtp_set_hostname (s, "client.test");
  smtp_set_eventcb (s, event_cb, &g_event_arg);
  if (opt_int ("hide_msgid_len", 0))
    {
      /* needs the header monitor; silent unless the test installs its own */
      g_hide_msgid_len = g_monitor_silent = 1;
      smtp_set_monitorcb (s, monitor_cb, &g_event_arg, 1);
    }
  return s;
}

/* Set all five timeouts below the RFC minimum (tests of stalls).  */
HELPER void short_timeouts (smtp_session_t s, long ms)
{
  int which;
  for (which = Timeout_GREETING; which <= Timeout_DATA2; which++)
    smtp_set_timeout (s, which | Timeout_OVERRIDE_RFC2822_MINIMUM, ms);
}

/* Fixed Date and Message-Id headers (used only if the message lacks them). */
HELPER void fixed_headers (smtp_message_t m)
{
  smtp_set_header (m, "Date", &fixed_date);
  smtp_set_header (m, "Message-Id", FIXED_MSGID);
}

HELPER int run_session (smtp_session_t s)
{
  int r = smtp_start_session (s);
  flush_pending_md (0);
  monitor_flush_reads (1);
  if (g_quiet_messagedata == 2 && g_messagedata_count)
    {
      /* how far a stalled transfer got depends on socket buffers */
      printf ("MESSAGEDATA events: some\n");
      g_messagedata_count = g_messagedata_bytes = 0;
    }
  else if (g_quiet_messagedata && g_messagedata_count)
    {
      printf ("MESSAGEDATA events: %ld, total len %ld\n",
              g_messagedata_count, g_messagedata_bytes);
      g_messagedata_count = g_messagedata_bytes = 0;
    }
  printf ("smtp_start_session=%d\n", r);
  print_errno ("after smtp_start_session");
  return r;
}

#endif
