/* One C program, two libraries: sends mail through whichever libesmtp.so.6
 * the loader finds and checks every status, so a broken library cannot look
 * fast. Built once against Debian's libesmtp.h.
 *
 *   esmtp_bench HOST:PORT one-session N [tls]    one session, N messages
 *   esmtp_bench HOST:PORT sessions N [tls]       N sessions of one message
 *
 * With "tls", STARTTLS is required (the server's CA is found through
 * $XDG_CONFIG_DIR/libesmtp/ca.pem) and every session must report
 * SMTP_EV_STARTTLS_OK.
 *
 * Each message is ~8 KiB to 5 recipients. Exit status 0 only if every
 * message and recipient was accepted (2xx, complete).
 */
#include <stdarg.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libesmtp.h>

#define RCPTS 5

static char *make_body (void)
{
  static const char line[] =
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n";
  size_t n = 0, cap = 9000;
  char *b = malloc (cap);
  n += (size_t) snprintf (b, cap,
                          "From: Bench <bench@example.org>\r\n"
                          "To: r0@example.org\r\n"
                          "Subject: libesmtp benchmark\r\n"
                          "Message-Id: <bench@example.org>\r\n"
                          "Date: Sun, 09 Sep 2001 01:46:40 +0000\r\n"
                          "\r\n");
  while (n + sizeof line < 8192)
    {
      memcpy (b + n, line, sizeof line - 1);
      n += sizeof line - 1;
    }
  memcpy (b + n, ".dot-stuffed line\r\n", 20);
  return b;
}

static void add_message (smtp_session_t s, const char *body)
{
  smtp_message_t m = smtp_add_message (s);
  char rcpt[64];
  int i;
  smtp_set_reverse_path (m, "bench@example.org");
  smtp_set_message_str (m, (void *) body);
  for (i = 0; i < RCPTS; i++)
    {
      snprintf (rcpt, sizeof rcpt, "r%d@example.org", i);
      smtp_add_recipient (m, rcpt);
    }
}

static int bad;
static int tls, tls_ok, tls_reused;

static void event_cb (smtp_session_t session, int event_no, void *arg, ...)
{
  (void) session;
  (void) arg;
  if (event_no == SMTP_EV_STARTTLS_OK)
    {
      va_list ap;
      va_start (ap, arg);
      tls_ok++;
      tls_reused += SSL_session_reused (va_arg (ap, SSL *)) != 0;
      va_end (ap);
    }
}

static void check_rcpt (smtp_recipient_t r, const char *mailbox, void *arg)
{
  const smtp_status_t *st = smtp_recipient_status (r);
  (void) arg;
  if (st->code / 100 != 2 || !smtp_recipient_check_complete (r))
    {
      fprintf (stderr, "recipient %s: %d\n", mailbox, st->code);
      bad++;
    }
}

static void check_message (smtp_message_t m, void *arg)
{
  (void) arg;
  if (smtp_reverse_path_status (m)->code / 100 != 2 || smtp_message_transfer_status (m)->code / 100 != 2)
    {
      fprintf (stderr, "message: MAIL %d, DATA %d\n", smtp_reverse_path_status (m)->code,
               smtp_message_transfer_status (m)->code);
      bad++;
    }
  smtp_enumerate_recipients (m, check_rcpt, NULL);
}

static int run (const char *server, int nmsgs, const char *body)
{
  smtp_session_t s = smtp_create_session ();
  int i, ok;
  smtp_set_server (s, server);
  smtp_set_hostname (s, "bench.example.org");
  if (tls)
    {
      smtp_starttls_enable (s, Starttls_REQUIRED);
      smtp_set_eventcb (s, event_cb, NULL);
    }
  for (i = 0; i < nmsgs; i++)
    add_message (s, body);
  ok = smtp_start_session (s);
  if (!ok)
    {
      char buf[128];
      fprintf (stderr, "smtp_start_session: %s\n", smtp_strerror (smtp_errno (), buf, sizeof buf));
      bad++;
    }
  smtp_enumerate_messages (s, check_message, NULL);
  smtp_destroy_session (s);
  return ok;
}

int main (int argc, char **argv)
{
  char *body;
  int n, i;
  if (argc != 4 && !(argc == 5 && strcmp (argv[4], "tls") == 0))
    {
      fprintf (stderr, "usage: %s HOST:PORT one-session|sessions N [tls]\n", argv[0]);
      return 2;
    }
  tls = argc == 5;
  n = atoi (argv[3]);
  body = make_body ();
  if (strcmp (argv[2], "one-session") == 0)
    run (argv[1], n, body);
  else
    for (i = 0; i < n && !bad; i++)
      run (argv[1], 1, body);
  free (body);
  if (tls && tls_ok != (strcmp (argv[2], "one-session") == 0 ? 1 : n))
    {
      fprintf (stderr, "%d STARTTLS_OK events\n", tls_ok);
      bad++;
    }
  if (bad)
    {
      fprintf (stderr, "%d failures\n", bad);
      return 1;
    }
  printf ("ok %d messages, %d TLS sessions resumed\n", n, tls_reused);
  return 0;
}
