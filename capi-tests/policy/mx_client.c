/* mx_client: sends one message to a recipient domain's MX hosts through
   libesmtp.so.6 (smtp_set_mx_domain, libesmtp-ext.h) and prints, one JSON
   object a line, what the application sees: connections, STARTTLS, each
   TLSRPT result, and the outcome with both statuses and the host that
   took the mail.  run_mx.py drives it and checks the lines.

   usage: mx_client [options] DOMAIN[:PORT] RECIPIENT
     --policy N          enum smtp_tls_policy
     --resolver LIST     smtp_tls_set_resolver
     --sts-port P        smtp_tls_set_sts_port
     --timeout MS        every SMTP timeout (Timeout_OVERRIDE_RFC2822_MINIMUM)
     --api-checks        the extension's answers to bad arguments, and exit
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>
#include <openssl/ssl.h>
#include <libesmtp.h>
#include <libesmtp-ext.h>
#include "json_out.h"

static void event_cb (smtp_session_t session, int event, void *arg, ...)
{
  va_list ap;
  (void) session;
  (void) arg;
  va_start (ap, arg);
  switch (event)
    {
    case SMTP_EV_TLSRPT:
      printf ("{\"event\": \"tlsrpt\", \"result\": %s}\n", va_arg (ap, const char *));
      break;
    case SMTP_EV_STARTTLS_OK:
      printf ("{\"event\": \"starttls-ok\"}\n");
      break;
    case SMTP_EV_CONNECT:
      printf ("{\"event\": \"connect\"}\n");
      break;
    case SMTP_EV_DISCONNECT:
      printf ("{\"event\": \"disconnect\"}\n");
      break;
    default:
      break;
    }
  va_end (ap);
  fflush (stdout);
}

static void report_cb (smtp_session_t session, const char *json, void *arg)
{
  (void) session;
  (void) arg;
  printf ("{\"callback\": \"tlsrpt\", \"result\": %s}\n", json);
  fflush (stdout);
}

static void put_status (const char *name, const smtp_status_t *st)
{
  printf (", \"%s\": %d, \"%s-text\": ", name, st->code, name);
  put_json_str (st->text);
  printf (", \"%s-enh\": [%d, %d, %d]", name, st->enh_class, st->enh_subject, st->enh_detail);
}

static void api_checks (void)
{
  smtp_session_t s = smtp_create_session ();
#define CHECK(call) do { int rc_ = (int) (call); printf ("{\"call\": "); put_json_str (#call); \
    printf (", \"rc\": %d, \"errno\": %d}\n", rc_, rc_ ? 0 : smtp_errno ()); } while (0)
  CHECK (smtp_set_mx_domain (NULL, "example.test"));
  CHECK (smtp_set_mx_domain (s, "not a domain"));
  CHECK (smtp_set_mx_domain (s, "127.0.0.1"));
  CHECK (smtp_set_mx_domain (s, "[::1]"));
  CHECK (smtp_set_mx_domain (s, "example.test:"));
  CHECK (smtp_set_mx_domain (s, "example.test:25:26"));
  CHECK (smtp_set_mx_domain (s, "example.test"));
  CHECK (smtp_set_mx_domain (s, "example.test:2525"));
  CHECK (smtp_tls_set_policy (s, SMTP_TLS_POLICY_MTA_STS, NULL));
  CHECK (smtp_set_mx_domain (s, NULL));
  {
    char buf[64];
    printf ("{\"strerror\": ");
    put_json_str (smtp_strerror (SMTP_ERR_NULL_MX, buf, sizeof buf));
    printf ("}\n");
  }
#undef CHECK
  smtp_destroy_session (s);
}

int main (int argc, char **argv)
{
  const char *domain = NULL, *rcpt = NULL, *resolver = NULL;
  int policy = SMTP_TLS_POLICY_NONE, sts_port = 0, i, ok, which;
  long timeout = 0;
  smtp_session_t session;
  smtp_message_t message;
  smtp_recipient_t recipient;
  struct timespec t0, t1;
  char buf[128];

  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (strcmp (a, "--policy") == 0 && v) policy = atoi (v), i++;
      else if (strcmp (a, "--resolver") == 0 && v) resolver = v, i++;
      else if (strcmp (a, "--sts-port") == 0 && v) sts_port = atoi (v), i++;
      else if (strcmp (a, "--timeout") == 0 && v) timeout = atol (v), i++;
      else if (strcmp (a, "--api-checks") == 0)
        {
          api_checks ();
          return 0;
        }
      else if (a[0] != '-' && domain == NULL) domain = a;
      else if (a[0] != '-' && rcpt == NULL) rcpt = a;
      else
        {
          fprintf (stderr, "mx_client: bad argument %s\n", a);
          return 2;
        }
    }
  if (domain == NULL || rcpt == NULL)
    {
      fprintf (stderr, "usage: mx_client [options] DOMAIN[:PORT] RECIPIENT\n");
      return 2;
    }
  session = smtp_create_session ();
  message = smtp_add_message (session);
  if (!smtp_set_mx_domain (session, domain))
    {
      printf ("{\"error\": \"smtp_set_mx_domain\", \"errno\": %d}\n", smtp_errno ());
      return 1;
    }
  smtp_set_hostname (session, "client.test");
  smtp_set_eventcb (session, event_cb, NULL);
  if (policy != SMTP_TLS_POLICY_NONE && !smtp_tls_set_policy (session, policy, NULL))
    printf ("{\"error\": \"smtp_tls_set_policy\", \"errno\": %d}\n", smtp_errno ());
  if (resolver != NULL && !smtp_tls_set_resolver (session, resolver))
    printf ("{\"error\": \"smtp_tls_set_resolver\", \"errno\": %d}\n", smtp_errno ());
  if (sts_port > 0)
    smtp_tls_set_sts_port (session, sts_port);
  if (timeout > 0)
    {
      smtp_tls_set_policy_timeout (session, timeout);
      for (which = Timeout_GREETING; which <= Timeout_DATA2; which++)
        smtp_set_timeout (session, which | Timeout_OVERRIDE_RFC2822_MINIMUM, timeout);
    }
  smtp_tls_set_report_cb (session, report_cb, NULL);
  smtp_set_reverse_path (message, "sender@client.test");
  smtp_set_header (message, "Subject", "mx test");
  smtp_set_message_str (message, (void *) "Date: Sun, 9 Sep 2001 01:46:40 +0000\r\n\r\nmx test body\r\n");
  recipient = smtp_add_recipient (message, rcpt);

  clock_gettime (CLOCK_MONOTONIC, &t0);
  ok = smtp_start_session (session);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  printf ("{\"outcome\": %d, \"errno\": %d, \"strerror\": ", ok, ok ? 0 : smtp_errno ());
  put_json_str (ok ? "" : smtp_strerror (smtp_errno (), buf, sizeof buf));
  printf (", \"server\": ");
  put_json_str (smtp_get_server_name (session));
  put_status ("message", smtp_message_transfer_status (message));
  put_status ("recipient", smtp_recipient_status (recipient));
  printf (", \"complete\": %d, \"seconds\": %.6f}\n", smtp_recipient_check_complete (recipient),
          (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  fflush (stdout);
  smtp_destroy_session (session);
  return 0;
}
