/* esmtp_tls_policy: how an application uses the TLS policies of
   libesmtp-ext.h.  It sends one message to a recipient domain's MX host
   under DANE, falling back to MTA-STS, prints each TLS report result as it
   comes, and at the end the day's RFC 8460 report document, which a real
   sender would mail or POST to the address in the domain's _smtp._tls TXT
   record.

   usage: esmtp_tls_policy MXHOST[:PORT] RECIPIENT [RESOLVER [STS-PORT]]

   The MX host is the application's to find (an MX lookup); RESOLVER must
   be a DNSSEC-validating resolver the host trusts (default: the
   nameservers of /etc/resolv.conf).

   cc esmtp_tls_policy.c -Iinclude -Ltarget/lib -lesmtp  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libesmtp.h>
#include <libesmtp-ext.h>

static void on_report (smtp_session_t session, const char *json, void *arg)
{
  (void) session;
  printf ("tls report: %s\n", json);
  /* Keep it for the daily aggregate.  */
  smtp_tlsrpt_add ((smtp_tlsrpt_t) arg, json);
}

int main (int argc, char **argv)
{
  smtp_session_t session;
  smtp_message_t message;
  smtp_recipient_t recipient;
  smtp_tlsrpt_t day;
  const char *domain;
  char *document, buf[128];
  time_t begun = time (NULL), ended;
  int sent, code = 0;

  if (argc < 3 || strchr (argv[2], '@') == NULL)
    {
      fprintf (stderr, "usage: %s MXHOST[:PORT] RECIPIENT [RESOLVER [STS-PORT]]\n", argv[0]);
      return 2;
    }
  domain = strchr (argv[2], '@') + 1;
  day = smtp_tlsrpt_new ();

  session = smtp_create_session ();
  smtp_set_server (session, argv[1]);
  /* The policy belongs to the recipient's domain, not to the MX host.  */
  if (!smtp_tls_set_policy (session, SMTP_TLS_POLICY_DANE_MTA_STS, domain))
    {
      fprintf (stderr, "bad domain %s\n", domain);
      return 2;
    }
  if (argc > 3)
    smtp_tls_set_resolver (session, argv[3]);
  if (argc > 4)
    smtp_tls_set_sts_port (session, atoi (argv[4]));
  smtp_tls_set_policy_timeout (session, 10000);
  smtp_tls_set_report_cb (session, on_report, day);

  message = smtp_add_message (session);
  smtp_set_reverse_path (message, "postmaster@client.test");
  smtp_set_header (message, "Subject", "sent under a TLS policy");
  smtp_set_message_str (message, (void *) "\r\nThis message travelled over authenticated TLS.\r\n");
  recipient = smtp_add_recipient (message, argv[2]);

  sent = smtp_start_session (session);
  if (!sent)
    printf ("not sent: %s\n", smtp_strerror (smtp_errno (), buf, sizeof buf));
  else
    {
      code = smtp_message_transfer_status (message)->code;
      printf ("message: %d, recipient: %d\n", code, smtp_recipient_status (recipient)->code);
    }
  smtp_destroy_session (session);

  /* RFC 8460 reports cover whole UTC days.  A session that crossed
     midnight has results in two days: a real sender files each day
     separately; the example spans both so that nothing is left out.  */
  ended = time (NULL);
  document = smtp_tlsrpt_report (day, "client.test", "mailto:tlsrpt@client.test", "client.test-1",
                                 begun - begun % 86400, ended - ended % 86400 + 86400);
  printf ("report: %s\n", document);
  free (document);
  smtp_tlsrpt_destroy (day);
  return code == 250 ? 0 : 1;
}
