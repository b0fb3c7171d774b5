/* tlsrpt_client: builds an RFC 8460 report from stored TLSRPT results and
   submits it with smtp_tlsrpt_submit through libesmtp.so.6, printing one
   JSON object a line: the report, each address's outcome, and the call's
   result.  run_tlsrpt_submit.py drives it and checks what the receivers
   got.

   usage: tlsrpt_client [options] POLICY-DOMAIN
     --results FILE      one TLSRPT result (JSON) a line, for smtp_tlsrpt_add
     --raw-report FILE   submit this file's text as the report instead
     --range START END   the report's date-range (Unix times)
     --from MAILBOX      the submitter's mailbox (default tlsrpt@sender.test)
     --relay HOST:PORT   smtp_set_server
     --mx DOMAIN:PORT    smtp_set_mx_domain (reports go to MX hosts, on PORT)
     --starttls-required smtp_starttls_enable (Starttls_REQUIRED)
     --resolver LIST     smtp_tls_set_resolver
     --timeout MS        smtp_tls_set_policy_timeout
     --reenter           from the callback, try to submit again on the
                         session and to destroy it (both must be refused)
     --api-checks        only the argument checks, one line each
*/
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libesmtp.h>
#include <libesmtp-ext.h>
#include "json_out.h"

static int reenter;
static smtp_session_t current;
static const char *current_domain, *current_from, *current_report;

static char *slurp (const char *path)
{
  FILE *f = fopen (path, "r");
  char *text = NULL;
  size_t len = 0;
  FILE *out;

  if (f == NULL)
    return NULL;
  out = open_memstream (&text, &len);
  for (int c; (c = getc (f)) != EOF;)
    putc (c, out);
  fclose (out);
  fclose (f);
  return text;
}

static void on_outcome (const char *uri, int ok, const char *detail, void *arg)
{
  (void) arg;
  printf ("{\"uri\": ");
  put_json_str (uri);
  printf (", \"ok\": %d, \"detail\": ", ok);
  put_json_str (detail);
  if (reenter)
    {
      /* The session is in use: the same submission again, a change of
         its settings and its destruction must all be refused.  */
      int again = smtp_tlsrpt_submit (current, current_domain, current_from, current_report, NULL, NULL);
      int again_errno = smtp_errno ();
      int set = smtp_set_server (current, "127.0.0.1:9");
      int set_errno = smtp_errno ();
      int destroyed = smtp_destroy_session (current);
      printf (", \"reenter\": [%d, %d, %d, %d, %d, %d]", again, again_errno, set, set_errno, destroyed,
              smtp_errno ());
    }
  printf ("}\n");
  fflush (stdout);
}

static void check (const char *call, int rc)
{
  printf ("{\"call\": \"%s\", \"rc\": %d, \"errno\": %d}\n", call, rc, rc >= 0 ? 0 : smtp_errno ());
}

static int api_checks (const char *domain, const char *resolver)
{
  smtp_session_t s = smtp_create_session ();
  const char *ok = "{\"organization-name\": \"o\", \"date-range\": {\"start-datetime\": "
                   "\"2026-01-01T00:00:00Z\", \"end-datetime\": \"2026-01-02T00:00:00Z\"}, "
                   "\"contact-info\": \"c\", \"report-id\": \"r@sender.test\", \"policies\": []}";
  char buf[128];

  if (resolver)
    smtp_tls_set_resolver (s, resolver);
  smtp_tls_set_policy_timeout (s, 2000);
  check ("null session", smtp_tlsrpt_submit (NULL, domain, "a@sender.test", ok, NULL, NULL));
  check ("null domain", smtp_tlsrpt_submit (s, NULL, "a@sender.test", ok, NULL, NULL));
  check ("bad domain", smtp_tlsrpt_submit (s, "a..test", "a@sender.test", ok, NULL, NULL));
  check ("null from", smtp_tlsrpt_submit (s, domain, NULL, ok, NULL, NULL));
  check ("bad from", smtp_tlsrpt_submit (s, domain, "no mailbox", ok, NULL, NULL));
  check ("null report", smtp_tlsrpt_submit (s, domain, "a@sender.test", NULL, NULL, NULL));
  check ("not json", smtp_tlsrpt_submit (s, domain, "a@sender.test", "{", NULL, NULL));
  check ("not a report", smtp_tlsrpt_submit (s, domain, "a@sender.test", "{\"a\": 1}", NULL, NULL));
  check ("bad report-id",
         smtp_tlsrpt_submit (s, domain, "a@sender.test",
                             "{\"organization-name\": \"o\", \"date-range\": {\"start-datetime\": "
                             "\"2026-01-01T00:00:00Z\", \"end-datetime\": \"2026-01-02T00:00:00Z\"}, "
                             "\"contact-info\": \"c\", \"report-id\": \"a\\r\\nBcc: x@y\", \"policies\": []}",
                             NULL, NULL));
  check ("another domain's policy",
         smtp_tlsrpt_submit (s, domain, "a@sender.test",
                             "{\"organization-name\": \"o\", \"date-range\": {\"start-datetime\": "
                             "\"2026-01-01T00:00:00Z\", \"end-datetime\": \"2026-01-02T00:00:00Z\"}, "
                             "\"contact-info\": \"c\", \"report-id\": \"r\", \"policies\": [{\"policy\": "
                             "{\"policy-type\": \"sts\", \"policy-domain\": \"other.test\"}}]}",
                             NULL, NULL));
  /* Well formed; the domain itself decides the rest.  */
  check ("valid", smtp_tlsrpt_submit (s, domain, "a@sender.test", ok, NULL, NULL));
  printf ("{\"strerror\": \"%s\"}\n", smtp_strerror (SMTP_ERR_TLSRPT_NO_RECORD, buf, sizeof buf));
  smtp_destroy_session (s);
  return 0;
}

int main (int argc, char **argv)
{
  const char *results = NULL, *raw = NULL, *from = "tlsrpt@sender.test";
  const char *relay = NULL, *mx = NULL, *resolver = NULL, *domain = NULL;
  long timeout = 0, start = 0, end = 0;
  int starttls_required = 0, checks = 0, rc, err;
  char *report = NULL, buf[128];
  struct timespec t0, t1;

  for (int i = 1; i < argc; i++)
    {
      const char *a = argv[i];
      if (!strcmp (a, "--results") && i + 1 < argc)
        results = argv[++i];
      else if (!strcmp (a, "--raw-report") && i + 1 < argc)
        raw = argv[++i];
      else if (!strcmp (a, "--range") && i + 2 < argc)
        {
          start = atol (argv[++i]);
          end = atol (argv[++i]);
        }
      else if (!strcmp (a, "--from") && i + 1 < argc)
        from = argv[++i];
      else if (!strcmp (a, "--relay") && i + 1 < argc)
        relay = argv[++i];
      else if (!strcmp (a, "--mx") && i + 1 < argc)
        mx = argv[++i];
      else if (!strcmp (a, "--starttls-required"))
        starttls_required = 1;
      else if (!strcmp (a, "--resolver") && i + 1 < argc)
        resolver = argv[++i];
      else if (!strcmp (a, "--timeout") && i + 1 < argc)
        timeout = atol (argv[++i]);
      else if (!strcmp (a, "--reenter"))
        reenter = 1;
      else if (!strcmp (a, "--api-checks"))
        checks = 1;
      else if (a[0] != '-' && domain == NULL)
        domain = a;
      else
        {
          fprintf (stderr, "tlsrpt_client: bad argument %s\n", a);
          return 2;
        }
    }
  if (domain == NULL)
    {
      fprintf (stderr, "usage: tlsrpt_client [options] POLICY-DOMAIN\n");
      return 2;
    }
  if (checks)
    return api_checks (domain, resolver);

  if (raw != NULL)
    report = slurp (raw);
  else
    {
      smtp_tlsrpt_t day = smtp_tlsrpt_new ();
      char *text = results ? slurp (results) : strdup ("");
      for (char *line = strtok (text, "\n"); line != NULL; line = strtok (NULL, "\n"))
        if (!smtp_tlsrpt_add (day, line))
          fprintf (stderr, "tlsrpt_client: not a result: %s\n", line);
      free (text);
      report = smtp_tlsrpt_report (day, "Sender Org", "mailto:tlsrpt@sender.test",
                                   "2026-report.1@sender.test", start, end);
      smtp_tlsrpt_destroy (day);
      printf ("{\"report\": %s}\n", report);
    }
  if (report == NULL)
    {
      fprintf (stderr, "tlsrpt_client: no report\n");
      return 2;
    }

  current = smtp_create_session ();
  if (relay)
    smtp_set_server (current, relay);
  if (mx)
    smtp_set_mx_domain (current, mx);
  if (starttls_required)
    smtp_starttls_enable (current, Starttls_REQUIRED);
  if (resolver)
    smtp_tls_set_resolver (current, resolver);
  if (timeout)
    smtp_tls_set_policy_timeout (current, timeout);
  clock_gettime (CLOCK_MONOTONIC, &t0);
  current_domain = domain;
  current_from = from;
  current_report = report;
  rc = smtp_tlsrpt_submit (current, domain, from, report, on_outcome, NULL);
  err = rc < 0 ? smtp_errno () : 0;
  clock_gettime (CLOCK_MONOTONIC, &t1);
  printf ("{\"rc\": %d, \"errno\": %d, \"strerror\": ", rc, err);
  put_json_str (rc < 0 ? smtp_strerror (err, buf, sizeof buf) : "");
  printf (", \"seconds\": %.3f}\n",
          (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
  smtp_destroy_session (current);
  free (report);
  return 0;
}
