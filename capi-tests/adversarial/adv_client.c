/* The client side of the adversarial suite: one libESMTP session, MSGS
   messages of RCPTS recipients each, against a server that may break the
   protocol anywhere. It prints what the library reports, one fact a line,
   for run_adversarial.py to hold against what the server really said:

     result RET ERRNO
     msg I CODE
     rcpt I J CODE COMPLETE
     done

   usage: adv_client HOST:PORT MSGS RCPTS [starttls] [auth]

   Message I (from 1) has "Subject: adv-I" and recipients rI-J@example.org.
   Every timeout is one second, so that no server can hold it longer than a
   few seconds; certificates are accepted whatever they are (the TLS checks
   are other suites' business). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <auth-client.h> /* first: libesmtp.h declares the AUTH calls after it */
#include <libesmtp.h>

#define MAX_MSGS 8
#define MAX_RCPTS 8

static void
on_event (smtp_session_t session, int event_no, void *arg, ...)
{
  (void) session;
  (void) arg;
  /* Go on whatever the certificate: its checks are not under test here.  */
  if (event_no == SMTP_EV_INVALID_PEER_CERTIFICATE || event_no == SMTP_EV_NO_PEER_CERTIFICATE
      || event_no == SMTP_EV_WRONG_PEER_CERTIFICATE)
    {
      va_list ap;
      va_start (ap, arg);
      if (event_no == SMTP_EV_INVALID_PEER_CERTIFICATE)
        (void) va_arg (ap, long);
      int *ok = va_arg (ap, int *);
      *ok = 1;
      va_end (ap);
    }
}

static int
interact (auth_client_request_t request, char **result, int fields, void *arg)
{
  (void) arg;
  for (int i = 0; i < fields; i++)
    result[i] = (request[i].flags & AUTH_PASS) ? (char *) "secret" : (char *) "user";
  return 1;
}

int
main (int argc, char **argv)
{
  if (argc < 4)
    {
      fprintf (stderr, "usage: adv_client HOST:PORT MSGS RCPTS [starttls] [auth]\n");
      return 2;
    }
  int nmsgs = atoi (argv[2]), nrcpts = atoi (argv[3]);
  if (nmsgs < 1 || nmsgs > MAX_MSGS || nrcpts < 1 || nrcpts > MAX_RCPTS)
    return 2;
  int starttls = 0, auth = 0;
  for (int i = 4; i < argc; i++)
    {
      starttls |= strcmp (argv[i], "starttls") == 0;
      auth |= strcmp (argv[i], "auth") == 0;
    }

  smtp_session_t session = smtp_create_session ();
  smtp_set_server (session, argv[1]);
  smtp_set_hostname (session, "client.test");
  smtp_set_eventcb (session, on_event, NULL);
  const int kinds[] = { Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER,
                        Timeout_DATA2 };
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++)
    smtp_set_timeout (session, kinds[k] | Timeout_OVERRIDE_RFC2822_MINIMUM, 1000);
  if (starttls)
    smtp_starttls_enable (session, Starttls_ENABLED);
  auth_context_t actx = NULL;
  if (auth)
    {
      auth_client_init ();
      actx = auth_create_context ();
      auth_set_mechanism_flags (actx, AUTH_PLUGIN_PLAIN, 0);
      auth_set_interact_cb (actx, interact, NULL);
      smtp_auth_set_context (session, actx);
    }

  static char bodies[MAX_MSGS][256];
  smtp_message_t msgs[MAX_MSGS];
  smtp_recipient_t rcpts[MAX_MSGS][MAX_RCPTS];
  for (int i = 0; i < nmsgs; i++)
    {
      msgs[i] = smtp_add_message (session);
      smtp_set_reverse_path (msgs[i], "sender@example.org");
      snprintf (bodies[i], sizeof bodies[i],
                "From: sender@example.org\r\nSubject: adv-%d\r\n"
                "Date: Sun, 09 Sep 2001 01:46:40 +0000\r\nMessage-Id: <adv-%d@client.test>\r\n"
                "\r\nBody of message %d.\r\n.leading dot\r\n",
                i + 1, i + 1, i + 1);
      smtp_set_message_str (msgs[i], bodies[i]);
      for (int j = 0; j < nrcpts; j++)
        {
          char addr[64];
          snprintf (addr, sizeof addr, "r%d-%d@example.org", i + 1, j + 1);
          rcpts[i][j] = smtp_add_recipient (msgs[i], addr);
        }
    }

  int ret = smtp_start_session (session);
  printf ("result %d %d\n", ret, smtp_errno ());
  for (int i = 0; i < nmsgs; i++)
    {
      const smtp_status_t *st = smtp_message_transfer_status (msgs[i]);
      printf ("msg %d %d\n", i + 1, st ? st->code : -1);
      for (int j = 0; j < nrcpts; j++)
        {
          const smtp_status_t *rs = smtp_recipient_status (rcpts[i][j]);
          int complete = smtp_recipient_check_complete (rcpts[i][j]);
          printf ("rcpt %d %d %d %d\n", i + 1, j + 1, rs ? rs->code : -1, complete);
        }
    }
  smtp_destroy_session (session);
  if (actx)
    auth_destroy_context (actx);
  printf ("done\n");
  return 0;
}
