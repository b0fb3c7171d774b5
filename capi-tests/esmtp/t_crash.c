/* Calls that crash (or abort) the original libESMTP 1.1.0.  These cases are
   flagged "divergent": they are never run against the original, and their
   golden output is what we believe a fixed library should print (see
   NOTES.md).  Each mode makes the one offending call, prints its result,
   then, where it matters, sends the message.

   usage: t_crash HOST:PORT mode=NAME  */
#include <openssl/ssl.h>
#include "common.h"

/* mode=reentry: from inside its own event callback, the application tries
   to start the running session again and to destroy it. The original
   recursed into the protocol engine / freed the session under its feet. */
static int reentered;

static void reentry_cb (smtp_session_t session, int event_no, void *arg, ...)
{
  (void) arg;
  if (event_no == SMTP_EV_CONNECT && !reentered)
    {
      reentered = 1;
      printf ("in CONNECT: smtp_start_session=%d", smtp_start_session (session));
      printf (" errno=%d\n", smtp_errno ());
      printf ("in CONNECT: smtp_destroy_session=%d", smtp_destroy_session (session));
      printf (" errno=%d\n", smtp_errno ());
    }
  if (event_no == SMTP_EV_MESSAGESENT)
    printf ("event MESSAGESENT\n");
}

int main (int argc, char **argv)
{
  smtp_session_t s;
  smtp_message_t m;
  smtp_recipient_t r;
  const char *mode;
  int send = 1;

  init_test (argc, argv);
  mode = opt_str ("mode", "");
  s = new_session (argv[1]);
  m = smtp_add_message (s);
  reg (m, "m1");
  smtp_set_reverse_path (m, "sender@example.org");
  r = smtp_add_recipient (m, "rcpt1@example.org");
  reg (r, "r1");
  fixed_headers (m);
  smtp_set_message_str (m, "Subject: crash test\r\n\r\nBody.\r\n");
  printf ("--- mode %s\n", mode);

  if (strcmp (mode, "none") == 0)
    ;                           /* baseline: no offending call */
  else if (strcmp (mode, "enum_rcpt_null") == 0)
    {
      /* original: calls the NULL callback -> SIGSEGV */
      CHECK_INT (smtp_enumerate_recipients (m, NULL, NULL));
      send = 0;
    }
  else if (strcmp (mode, "envid_null") == 0)
    {
      /* original: strdup (NULL) -> SIGSEGV */
      CHECK_INT (smtp_dsn_set_envid (m, NULL));
      send = 0;
    }
  else if (strcmp (mode, "orcpt_null") == 0)
    {
      /* original: strdup (NULL) -> SIGSEGV */
      CHECK_INT (smtp_dsn_set_orcpt (r, NULL, "a@example.org"));
      CHECK_INT (smtp_dsn_set_orcpt (r, "rfc822", NULL));
      send = 0;
    }
  else if (strcmp (mode, "starttls_ctx_null") == 0)
    {
      /* original: SSL_CTX_up_ref (NULL) -> SIGSEGV.  libESMTP HEAD accepts
         NULL (drops the application's CTX) and returns 1.  */
      CHECK_INT (smtp_starttls_set_ctx (s, NULL));
      send = 0;
    }
  else if (strcmp (mode, "from_phrase_null") == 0)
    {
      /* original: strdup (NULL mailbox) -> SIGSEGV */
      CHECK_INT (smtp_set_header (m, "From", "Phrase Only", NULL));
    }
  else if (strcmp (mode, "sender_nullnull") == 0)
    {
      /* original: returns 1, then dereferences NULL while printing the
         header during the transfer -> SIGSEGV */
      CHECK_INT (smtp_set_header (m, "Sender", NULL, NULL));
    }
  else if (strcmp (mode, "date_null") == 0)
    {
      /* original: dereferences the NULL time_t pointer */
      smtp_message_t m2 = smtp_add_message (s);
      reg (m2, "m2");
      CHECK_INT (smtp_set_header (m2, "Date", (const time_t *) NULL));
      CHECK_INT (smtp_set_header (m2, "Date", &fixed_date));
      send = 0;
    }
  else if (strcmp (mode, "reentry") == 0)
    CHECK_INT (smtp_set_eventcb (s, reentry_cb, NULL));
  else if (strcmp (mode, "override_novalue") == 0)
    {
      /* original: assertion failure (abort) when the message's Subject is
         to be replaced by a value that was never set */
      CHECK_INT (smtp_set_header_option (m, "Subject", Hdr_OVERRIDE, 1));
    }
  else
    {
      printf ("unknown mode\n");
      return 2;
    }
  if (send)
    {
      run_session (s);
      print_all_statuses (s);
    }
  printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
  return 0;
}
