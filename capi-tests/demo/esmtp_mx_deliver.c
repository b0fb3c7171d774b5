/* esmtp_mx_deliver: how an application delivers to a recipient's domain
   with smtp_set_mx_domain (libesmtp-ext.h): the library finds the domain's
   MX hosts over DNSSEC and tries them in order, each under DANE where a
   validated MX RRset and TLSA records allow, else MTA-STS.  It prints each
   TLS report result, then which host took the message and the statuses.

   usage: esmtp_mx_deliver RECIPIENT [RESOLVER [PORT [STS-PORT]]]

   RESOLVER must be a DNSSEC-validating resolver the host trusts (default:
   the nameservers of /etc/resolv.conf); PORT is the MX hosts' (default 25).

   cc esmtp_mx_deliver.c -Iinclude -Ltarget/lib -lesmtp  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libesmtp.h>
#include <libesmtp-ext.h>

static void on_report (smtp_session_t session, const char *json, void *arg)
{
  (void) session;
  (void) arg;
  printf ("tls report: %s\n", json);
}

int main (int argc, char **argv)
{
  smtp_session_t session;
  smtp_message_t message;
  smtp_recipient_t recipient;
  const smtp_status_t *st;
  const char *at;
  char target[300], buf[128];
  int sent, ok;

  if (argc < 2 || (at = strchr (argv[1], '@')) == NULL || strlen (at + 1) > 250)
    {
      fprintf (stderr, "usage: %s RECIPIENT [RESOLVER [PORT [STS-PORT]]]\n", argv[0]);
      return 2;
    }
  snprintf (target, sizeof target, "%s:%s", at + 1, argc > 3 ? argv[3] : "25");

  session = smtp_create_session ();
  if (!smtp_set_mx_domain (session, target))
    {
      fprintf (stderr, "not a domain: %s\n", at + 1);
      return 2;
    }
  /* The policy's domain is the MX domain unless given here.  */
  smtp_tls_set_policy (session, SMTP_TLS_POLICY_DANE_MTA_STS, NULL);
  if (argc > 2)
    smtp_tls_set_resolver (session, argv[2]);
  if (argc > 4)
    smtp_tls_set_sts_port (session, atoi (argv[4]));
  smtp_tls_set_report_cb (session, on_report, NULL);

  message = smtp_add_message (session);
  smtp_set_reverse_path (message, "postmaster@client.test");
  smtp_set_header (message, "Subject", "delivered to the domain's MX");
  smtp_set_message_str (message, (void *) "\r\nFound through a validated MX RRset.\r\n");
  recipient = smtp_add_recipient (message, argv[1]);

  sent = smtp_start_session (session);
  st = smtp_recipient_status (recipient);
  if (sent)
    printf ("delivered by %s: message %d, recipient %d\n", smtp_get_server_name (session),
            smtp_message_transfer_status (message)->code, st->code);
  else
    printf ("not delivered: %s; recipient %d %s", smtp_strerror (smtp_errno (), buf, sizeof buf),
            st->code, st->text != NULL ? st->text : "\n");
  ok = sent && st->code == 250;
  smtp_destroy_session (session);
  return ok ? 0 : 1;
}
