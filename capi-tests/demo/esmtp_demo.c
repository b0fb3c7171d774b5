/* The README demo: send one message through libesmtp.so.6 and print what
 * the server said. Written against the libESMTP 1.1.0 API only, so it runs
 * the same with Debian's libesmtp6 or ours.
 *
 *   esmtp_demo HOST:PORT FROM TO...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libesmtp.h>

static void event_cb (smtp_session_t session, int event_no, void *arg, ...)
{
  (void) session;
  (void) arg;
  switch (event_no)
    {
    case SMTP_EV_CONNECT: printf ("event: connected\n"); break;
    case SMTP_EV_MAILSTATUS: printf ("event: MAIL FROM answered\n"); break;
    case SMTP_EV_RCPTSTATUS: printf ("event: RCPT TO answered\n"); break;
    case SMTP_EV_MESSAGESENT: printf ("event: message sent\n"); break;
    case SMTP_EV_DISCONNECT: printf ("event: disconnected\n"); break;
    default: break;
    }
}

static void print_status (const char *what, const smtp_status_t *st)
{
  printf ("%-22s %d %s", what, st->code, st->text ? st->text : "(no text)\n");
}

static void print_recipient (smtp_recipient_t r, const char *mailbox, void *arg)
{
  char label[128];
  (void) arg;
  snprintf (label, sizeof label, "RCPT TO:<%s>", mailbox);
  print_status (label, smtp_recipient_status (r));
}

int main (int argc, char **argv)
{
  static const char body[] =
    "Subject: libesmtp.so.6 demo\r\n"
    "\r\n"
    "Sent through the Rust libesmtp.so.6 from a C program.\r\n"
    ".A line starting with a dot survives dot-stuffing.\r\n";
  smtp_session_t session;
  smtp_message_t message;
  char buf[128], version[16];
  int i, ok;

  if (argc < 4)
    {
      fprintf (stderr, "usage: %s HOST:PORT FROM TO...\n", argv[0]);
      return 2;
    }
  smtp_version (version, sizeof version, Ver_VERSION);
  printf ("libESMTP API version %s\n", version);

  session = smtp_create_session ();
  smtp_set_server (session, argv[1]);
  smtp_set_hostname (session, "demo.localhost");
  smtp_set_eventcb (session, event_cb, NULL);
  message = smtp_add_message (session);
  smtp_set_reverse_path (message, argv[2]);
  smtp_set_header (message, "To", NULL, NULL);
  smtp_set_message_str (message, (void *) body);
  for (i = 3; i < argc; i++)
    smtp_add_recipient (message, argv[i]);

  ok = smtp_start_session (session);
  if (!ok)
    printf ("smtp_start_session failed: %s\n",
            smtp_strerror (smtp_errno (), buf, sizeof buf));
  else
    {
      print_status ("MAIL FROM:", smtp_reverse_path_status (message));
      smtp_enumerate_recipients (message, print_recipient, NULL);
      print_status ("message:", smtp_message_transfer_status (message));
    }
  ok = ok && smtp_message_transfer_status (message)->code / 100 == 2;
  smtp_destroy_session (session);
  return ok ? 0 : 1;
}
