/* policy_client: sends one message through libesmtp.so.6 under a TLS
   policy (libesmtp-ext.h) and prints, one JSON object a line, what the
   application sees: each extension event, each TLSRPT callback, and the
   session's outcome.  run_policy.py drives it and checks the lines.

   usage: policy_client [options] HOST:PORT
     --policy N          enum smtp_tls_policy
     --domain D          the policy domain
     --resolver LIST     smtp_tls_set_resolver
     --sts-port P        smtp_tls_set_sts_port
     --timeout MS        smtp_tls_set_policy_timeout
     --cert-events       smtp_tls_set_cert_events (1)
     --refuse-depth N    answer ok=0 to SMTP_EV_TLS_CERT at that depth
     --sessions N        run N sessions one after the other (cache tests)
     --report            print the aggregated RFC 8460 report at the end
     --starttls-required smtp_starttls_enable (Starttls_REQUIRED)
     --app-ctx CAFILE    smtp_starttls_set_ctx with the application's own
                         SSL_CTX trusting CAFILE; at the end, whether DANE
                         got enabled on it (it must not)
     --no-resolver       leave the resolver to /etc/resolv.conf
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <time.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/err.h>
#include <libesmtp.h>
#include <libesmtp-ext.h>
#include "json_out.h"

static int refuse_depth = -1;
static int starttls_required;
static smtp_tlsrpt_t collected;
static SSL_CTX *app_ctx;

static void event_cb (smtp_session_t session, int event, void *arg, ...)
{
  va_list ap;
  (void) session;
  (void) arg;
  va_start (ap, arg);
  switch (event)
    {
    case SMTP_EV_TLS_CERT:
      {
        X509 *cert = va_arg (ap, X509 *);
        int depth = va_arg (ap, int);
        int *ok = va_arg (ap, int *);
        SSL *ssl = va_arg (ap, SSL *);
        char cn[256] = "";
        X509_NAME_get_text_by_NID (X509_get_subject_name (cert), NID_commonName, cn, sizeof cn);
        printf ("{\"event\": \"tls-cert\", \"depth\": %d, \"cn\": ", depth);
        put_json_str (cn);
        printf (", \"ok-default\": %d, \"ssl\": %s}\n", *ok, ssl != NULL ? "true" : "false");
        if (depth == refuse_depth)
          *ok = 0;
        break;
      }
    case SMTP_EV_TLSRPT:
      {
        const char *json = va_arg (ap, const char *);
        printf ("{\"event\": \"tlsrpt\", \"result\": %s}\n", json);
        break;
      }
    case SMTP_EV_STARTTLS_OK:
      {
        SSL *ssl = va_arg (ap, SSL *);
        printf ("{\"event\": \"starttls-ok\", \"version\": ");
        put_json_str (SSL_get_version (ssl));
        printf ("}\n");
        break;
      }
    case SMTP_EV_CONNECT:
      printf ("{\"event\": \"connect\"}\n");
      break;
    case SMTP_EV_EXTNA_STARTTLS:
      printf ("{\"event\": \"extna-starttls\"}\n");
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
  if (collected != NULL && !smtp_tlsrpt_add (collected, json))
    printf ("{\"error\": \"smtp_tlsrpt_add refused a result\"}\n");
  fflush (stdout);
}

static int run_session (const char *server, int policy, const char *domain, const char *resolver,
                        int sts_port, long timeout, int cert_events)
{
  smtp_session_t session = smtp_create_session ();
  smtp_message_t message = smtp_add_message (session);
  smtp_recipient_t rcpt;
  const smtp_status_t *st;
  struct timespec t0, t1;
  int ok;

  smtp_set_server (session, server);
  smtp_set_hostname (session, "client.test");
  smtp_set_eventcb (session, event_cb, NULL);
  if (!smtp_tls_set_policy (session, policy, domain))
    printf ("{\"error\": \"smtp_tls_set_policy\", \"errno\": %d}\n", smtp_errno ());
  if (resolver != NULL && !smtp_tls_set_resolver (session, resolver))
    printf ("{\"error\": \"smtp_tls_set_resolver\", \"errno\": %d}\n", smtp_errno ());
  if (sts_port > 0)
    smtp_tls_set_sts_port (session, sts_port);
  if (timeout > 0)
    smtp_tls_set_policy_timeout (session, timeout);
  smtp_tls_set_cert_events (session, cert_events);
  if (starttls_required)
    smtp_starttls_enable (session, Starttls_REQUIRED);
  if (app_ctx != NULL && !smtp_starttls_set_ctx (session, app_ctx))
    printf ("{\"error\": \"smtp_starttls_set_ctx\", \"errno\": %d}\n", smtp_errno ());
  smtp_tls_set_report_cb (session, report_cb, NULL);
  smtp_set_reverse_path (message, "sender@client.test");
  smtp_set_header (message, "Subject", "policy test");
  smtp_set_message_str (message, (void *) "Date: Sun, 9 Sep 2001 01:46:40 +0000\r\n\r\npolicy test body\r\n");
  rcpt = smtp_add_recipient (message, "rcpt@example.test");

  clock_gettime (CLOCK_MONOTONIC, &t0);
  ok = smtp_start_session (session);
  clock_gettime (CLOCK_MONOTONIC, &t1);
  st = smtp_message_transfer_status (message);
  printf ("{\"outcome\": %d, \"errno\": %d, \"strerror\": ", ok, ok ? 0 : smtp_errno ());
  {
    char buf[128];
    put_json_str (ok ? "" : smtp_strerror (smtp_errno (), buf, sizeof buf));
  }
  printf (", \"message\": %d, \"recipient\": %d, \"seconds\": %.6f}\n", st->code,
          smtp_recipient_status (rcpt)->code,
          (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  fflush (stdout);
  smtp_destroy_session (session);
  return ok;
}

/* The extension API's answers to bad arguments, one line each.  */
static void api_checks (void)
{
  smtp_session_t s = smtp_create_session ();
  smtp_tlsrpt_t r;
#define CHECK(call) do { int rc_ = (int) (call); printf ("{\"call\": "); put_json_str (#call); \
    printf (", \"rc\": %d, \"errno\": %d}\n", rc_, rc_ ? 0 : smtp_errno ()); } while (0)
  CHECK (smtp_tls_set_policy (NULL, SMTP_TLS_POLICY_DANE, NULL));
  CHECK (smtp_tls_set_policy (s, 99, NULL));
  CHECK (smtp_tls_set_policy (s, -1, NULL));
  CHECK (smtp_tls_set_policy (s, SMTP_TLS_POLICY_MTA_STS, NULL));
  CHECK (smtp_tls_set_policy (s, SMTP_TLS_POLICY_MTA_STS, "bad domain"));
  CHECK (smtp_tls_set_policy (s, SMTP_TLS_POLICY_MTA_STS, "example.test"));
  CHECK (smtp_tls_set_policy (s, SMTP_TLS_POLICY_DANE, NULL));
  CHECK (smtp_tls_set_resolver (NULL, "127.0.0.1"));
  CHECK (smtp_tls_set_resolver (s, "not-an-address"));
  CHECK (smtp_tls_set_resolver (s, ""));
  CHECK (smtp_tls_set_resolver (s, "127.0.0.1:5353, [::1]:53"));
  CHECK (smtp_tls_set_resolver (s, NULL));
  CHECK (smtp_tls_set_policy_timeout (NULL, 1000));
  CHECK (smtp_tls_set_policy_timeout (s, 1));
  CHECK (smtp_tls_set_sts_port (s, 0));
  CHECK (smtp_tls_set_sts_port (s, 70000));
  CHECK (smtp_tls_set_sts_port (s, 8443));
  CHECK (smtp_tls_set_report_cb (NULL, report_cb, NULL));
  CHECK (smtp_tls_set_report_cb (s, NULL, NULL));
  CHECK (smtp_tls_set_cert_events (NULL, 1));
  CHECK (smtp_tlsrpt_add (NULL, "{}"));
  r = smtp_tlsrpt_new ();
  CHECK (smtp_tlsrpt_add (r, NULL));
  CHECK (smtp_tlsrpt_add (r, "{\"epoch\": 1}"));
  CHECK (smtp_tlsrpt_add (r, "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["));
  CHECK (smtp_tlsrpt_report (r, NULL, "c", "i", 0, 1) != NULL);
  CHECK (smtp_tlsrpt_report (NULL, "o", "c", "i", 0, 1) != NULL);
  smtp_tlsrpt_destroy (r);
  smtp_tlsrpt_destroy (NULL);
  {
    char buf[64];
    printf ("{\"strerror\": \"%s\"}\n", smtp_strerror (SMTP_ERR_TLS_POLICY, buf, sizeof buf));
  }
#undef CHECK
  smtp_destroy_session (s);
}

int main (int argc, char **argv)
{
  int policy = SMTP_TLS_POLICY_NONE, sts_port = 0, cert_events = 0, sessions = 1, report = 0, i;
  const char *domain = NULL, *resolver = NULL, *server = NULL, *app_ca = NULL;
  long timeout = 0;
  int no_resolver = 0;

  for (i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      const char *v = i + 1 < argc ? argv[i + 1] : NULL;
      if (strcmp (a, "--policy") == 0 && v) policy = atoi (v), i++;
      else if (strcmp (a, "--domain") == 0 && v) domain = v, i++;
      else if (strcmp (a, "--resolver") == 0 && v) resolver = v, i++;
      else if (strcmp (a, "--sts-port") == 0 && v) sts_port = atoi (v), i++;
      else if (strcmp (a, "--timeout") == 0 && v) timeout = atol (v), i++;
      else if (strcmp (a, "--refuse-depth") == 0 && v) refuse_depth = atoi (v), i++;
      else if (strcmp (a, "--sessions") == 0 && v) sessions = atoi (v), i++;
      else if (strcmp (a, "--cert-events") == 0) cert_events = 1;
      else if (strcmp (a, "--starttls-required") == 0) starttls_required = 1;
      else if (strcmp (a, "--report") == 0) report = 1;
      else if (strcmp (a, "--app-ctx") == 0 && v) app_ca = v, i++;
      else if (strcmp (a, "--no-resolver") == 0) no_resolver = 1;
      else if (strcmp (a, "--api-checks") == 0)
        {
          api_checks ();
          return 0;
        }
      else if (a[0] != '-') server = a;
      else
        {
          fprintf (stderr, "policy_client: bad argument %s\n", a);
          return 2;
        }
    }
  if (server == NULL)
    {
      fprintf (stderr, "usage: policy_client [options] HOST:PORT\n");
      return 2;
    }
  if (no_resolver)
    resolver = NULL;
  if (app_ca != NULL)
    {
      app_ctx = SSL_CTX_new (TLS_client_method ());
      if (app_ctx == NULL || SSL_CTX_load_verify_locations (app_ctx, app_ca, NULL) != 1)
        {
          fprintf (stderr, "policy_client: cannot set up the application's SSL_CTX\n");
          return 2;
        }
    }
  if (report)
    collected = smtp_tlsrpt_new ();
  for (i = 0; i < sessions; i++)
    run_session (server, policy, domain, resolver, sts_port, timeout, cert_events);
  if (app_ctx != NULL)
    {
      /* OpenSSL has no getter for a context's DANE state, but
         SSL_dane_enable fails on an SSL whose context never had
         SSL_CTX_dane_enable.  */
      SSL *probe = SSL_new (app_ctx);
      int enabled = probe != NULL && SSL_dane_enable (probe, "probe.test") > 0;
      printf ("{\"app-ctx-dane-enabled\": %s}\n", enabled ? "true" : "false");
      SSL_free (probe);
      SSL_CTX_free (app_ctx);
      ERR_clear_error ();
    }
  if (report)
    {
      char *doc = smtp_tlsrpt_report (collected, "client.test", "mailto:tlsrpt@client.test",
                                      "report-1", 0, 4102444800L);
      printf ("{\"report\": %s}\n", doc != NULL ? doc : "null");
      free (doc);
      smtp_tlsrpt_destroy (collected);
    }
  return 0;
}
