/* esmtp_tlsrpt_submit: the other half of esmtp_tls_policy.  A sender
   keeps the TLSRPT results its sessions reported (the report callback's
   JSON, one a line); once a day it builds, for each policy domain, the
   RFC 8460 report of the day before and sends it wherever the domain's
   _smtp._tls TXT record asks: HTTPS receivers get it POSTed, mailboxes
   get it mailed through the relay.  This program does that for one
   domain and prints what became of the report at each address.

   usage: esmtp_tlsrpt_submit RESULTS POLICY-DOMAIN FROM RELAY [RESOLVER [DAY]]

   RESULTS   file of stored results, one JSON object a line
   FROM      the submitter's mailbox, e.g. tlsrpt@mail.example.org
   RELAY     the SMTP server mailed reports go through, host:port
   RESOLVER  the resolver to ask for the _smtp._tls record
   DAY       the UTC day to report, YYYY-MM-DD (default: yesterday)

   cc esmtp_tlsrpt_submit.c -Iinclude -Ltarget/lib -lesmtp  */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libesmtp.h>
#include <libesmtp-ext.h>

static void on_outcome (const char *uri, int ok, const char *detail, void *arg)
{
  (void) arg;
  printf ("%s: %s: %s\n", uri, ok ? "sent" : "failed", detail);
}

/* Midnight UTC starting DAY (YYYY-MM-DD), or yesterday's; -1 if bad.  */
static time_t day_start (const char *day)
{
  struct tm tm;
  time_t now = time (NULL);

  if (day == NULL)
    return now - now % 86400 - 86400;
  memset (&tm, 0, sizeof tm);
  if (sscanf (day, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
    return -1;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return timegm (&tm);
}

int main (int argc, char **argv)
{
  const char *domain, *from, *at;
  char line[8192], pattern[300], report_id[400], contact[300], buf[128], day[16];
  smtp_tlsrpt_t results;
  smtp_session_t session;
  char *report;
  time_t start;
  FILE *f;
  int n;

  if (argc < 5 || (at = strchr (argv[3], '@')) == NULL)
    {
      fprintf (stderr, "usage: %s RESULTS POLICY-DOMAIN FROM RELAY [RESOLVER [DAY]]\n", argv[0]);
      return 2;
    }
  domain = argv[2];
  from = argv[3];
  start = day_start (argc > 6 ? argv[6] : NULL);
  if (start < 0 || (f = fopen (argv[1], "r")) == NULL)
    {
      fprintf (stderr, "%s: bad day, or cannot read %s\n", argv[0], argv[1]);
      return 2;
    }

  /* A report speaks of one domain's policies only: keep that domain's
     results (the library writes the field exactly so).  */
  snprintf (pattern, sizeof pattern, "\"policy-domain\": \"%s\"", domain);
  results = smtp_tlsrpt_new ();
  while (fgets (line, sizeof line, f) != NULL)
    if (strstr (line, pattern) != NULL)
      smtp_tlsrpt_add (results, line);
  fclose (f);

  strftime (day, sizeof day, "%Y-%m-%d", gmtime (&start));
  snprintf (report_id, sizeof report_id, "%s.%s@%s", day, domain, at + 1);
  snprintf (contact, sizeof contact, "mailto:%s", from);
  report = smtp_tlsrpt_report (results, at + 1, contact, report_id, start, start + 86400);
  smtp_tlsrpt_destroy (results);

  session = smtp_create_session ();
  smtp_set_server (session, argv[4]);
  if (argc > 5)
    smtp_tls_set_resolver (session, argv[5]);
  smtp_tls_set_policy_timeout (session, 10000);
  n = smtp_tlsrpt_submit (session, domain, from, report, on_outcome, NULL);
  if (n < 0)
    printf ("not submitted: %s\n", smtp_strerror (smtp_errno (), buf, sizeof buf));
  else
    printf ("report %s taken by %d address%s\n", report_id, n, n == 1 ? "" : "es");
  smtp_destroy_session (session);
  free (report);
  return n > 0 ? 0 : 1;
}
