/* t_threads: THREADS threads, each sending SESSIONS one-message sessions
   over STARTTLS (required, verified) to one server at once, so that they
   share the library's process-wide TLS context and session cache.

   usage: t_threads HOST:PORT THREADS SESSIONS

   Prints one line, "delivered D of N, resumed R", and exits 0 only if
   every message was delivered.  run_threads.py runs it natively and
   built with ThreadSanitizer.  */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <openssl/ssl.h>
#include <libesmtp.h>

static const char *g_server;
static int g_sessions;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_delivered, g_resumed;

struct outcome
{
  int tls, reused;
};

static void on_event (smtp_session_t s, int ev, void *arg, ...)
{
  struct outcome *o = arg;
  va_list ap;
  (void) s;
  if (ev != SMTP_EV_STARTTLS_OK)
    return;
  va_start (ap, arg);
  SSL *ssl = va_arg (ap, SSL *);
  va_end (ap);
  o->tls = 1;
  o->reused = SSL_session_reused (ssl);
}

static void *sender (void *unused)
{
  int i;
  (void) unused;
  for (i = 0; i < g_sessions; i++)
    {
      struct outcome o = { 0, 0 };
      smtp_session_t s = smtp_create_session ();
      smtp_message_t m = smtp_add_message (s);
      const smtp_status_t *st;
      int ok;

      smtp_set_server (s, g_server);
      smtp_starttls_enable (s, Starttls_REQUIRED);
      smtp_set_eventcb (s, on_event, &o);
      smtp_set_reverse_path (m, "sender@example.org");
      smtp_add_recipient (m, "rcpt@example.org");
      smtp_set_message_str (m, (void *) "Subject: threads\r\n\r\nBody.\r\n");
      ok = smtp_start_session (s);
      st = smtp_message_transfer_status (m);
      ok = ok && o.tls && st != NULL && st->code == 250;
      if (!ok)
        {
          char buf[128];
          fprintf (stderr, "not delivered: %s, tls %d, status %d\n",
                   smtp_strerror (smtp_errno (), buf, sizeof buf), o.tls, st != NULL ? st->code : -1);
        }
      smtp_destroy_session (s);

      pthread_mutex_lock (&g_lock);
      g_delivered += ok;
      g_resumed += o.reused;
      pthread_mutex_unlock (&g_lock);
    }
  return NULL;
}

int main (int argc, char **argv)
{
  pthread_t *tids;
  int n, i;

  if (argc != 4)
    {
      fprintf (stderr, "usage: %s HOST:PORT THREADS SESSIONS\n", argv[0]);
      return 2;
    }
  g_server = argv[1];
  n = atoi (argv[2]);
  g_sessions = atoi (argv[3]);
  if (n < 1 || g_sessions < 1)
    return 2;
  tids = calloc ((size_t) n, sizeof *tids);
  for (i = 0; i < n; i++)
    if (pthread_create (&tids[i], NULL, sender, NULL) != 0)
      return 1;
  for (i = 0; i < n; i++)
    pthread_join (tids[i], NULL);
  free (tids);
  printf ("delivered %d of %d, resumed %d\n", g_delivered, n * g_sessions, g_resumed);
  return g_delivered == n * g_sessions ? 0 : 1;
}
