/* Application data set/get/release on session, message, recipient and ETRN
   node (release called on replacement and at destroy), and the
   enumeration functions (order of addition, arguments).  No server.  */
#define LIBESMTP_ENABLE_DEPRECATED_SYMBOLS 1
#include "common.h"

static void release (void *p)
{
  printf ("  release(%s)\n", (const char *) p);
}

static void show (const char *label, const void *p)
{
  printf ("%s -> %s\n", label, p ? (const char *) p : "NULL");
}

static void enum_msg (smtp_message_t m, void *arg)
{
  printf ("  enumerate message %s arg=%s\n", rname (m), (const char *) arg);
}

static void enum_rcpt (smtp_recipient_t r, const char *mailbox, void *arg)
{
  printf ("  enumerate recipient %s mailbox=", rname (r));
  put_str (mailbox);
  printf (" arg=");
  put_str (arg);
  printf ("\n");
}

static void enum_node (smtp_etrn_node_t n, int option, const char *domain, void *arg)
{
  printf ("  enumerate etrn %s option=%d domain=", rname (n), option);
  put_str (domain);
  printf (" arg=%s\n", (const char *) arg);
}

static void count_msg (smtp_message_t m, void *arg)
{
  UNUSED (m);
  ++*(int *) arg;
}

int main (int argc, char **argv)
{
  smtp_session_t s;
  smtp_message_t m1, m2, m3;
  smtp_recipient_t r1, r2, r3;
  smtp_etrn_node_t e1, e2;
  char name[32];
  int i, count = 0;

  init_test (argc, argv);
  s = smtp_create_session ();
  reg (s, "s1");

  printf ("--- enumerations on empty objects\n");
  printf ("smtp_enumerate_messages=%d\n", smtp_enumerate_messages (s, enum_msg, "A"));
  printf ("smtp_etrn_enumerate_nodes=%d\n", smtp_etrn_enumerate_nodes (s, enum_node, "A"));

  m1 = smtp_add_message (s); reg (m1, "m1");
  m2 = smtp_add_message (s); reg (m2, "m2");
  m3 = smtp_add_message (s); reg (m3, "m3");
  printf ("smtp_enumerate_recipients(m1, empty)=%d\n",
          smtp_enumerate_recipients (m1, enum_rcpt, "B"));
  r1 = smtp_add_recipient (m1, "one@example.org"); reg (r1, "r1");
  r2 = smtp_add_recipient (m1, "two@example.org"); reg (r2, "r2");
  r3 = smtp_add_recipient (m2, "three@example.org"); reg (r3, "r3");
  /* The same mailbox twice is allowed and gives two recipients.  */
  reg (smtp_add_recipient (m1, "one@example.org"), "r4");
  e1 = smtp_etrn_add_node (s, 0, "example.org"); reg (e1, "e1");
  e2 = smtp_etrn_add_node (s, '@', "example.net"); reg (e2, "e2");

  printf ("--- enumerations\n");
  printf ("smtp_enumerate_messages=%d\n", smtp_enumerate_messages (s, enum_msg, "C"));
  printf ("smtp_enumerate_recipients(m1)=%d\n", smtp_enumerate_recipients (m1, enum_rcpt, "D"));
  printf ("smtp_enumerate_recipients(m2)=%d\n", smtp_enumerate_recipients (m2, enum_rcpt, NULL));
  printf ("smtp_enumerate_recipients(m3)=%d\n", smtp_enumerate_recipients (m3, enum_rcpt, "E"));
  printf ("smtp_etrn_enumerate_nodes=%d\n", smtp_etrn_enumerate_nodes (s, enum_node, "F"));
  for (i = 0; i < 100; i++)
    {
      snprintf (name, sizeof name, "m%d", i + 4);
      reg (smtp_add_message (s), "%s", name);
    }
  smtp_enumerate_messages (s, count_msg, &count);
  printf ("after adding 100 more messages: %d enumerated\n", count);

  printf ("--- session data\n");
  show ("smtp_get_application_data (initial)", smtp_get_application_data (s));
  show ("smtp_set_application_data(s-A) previous", smtp_set_application_data (s, "s-A"));
  show ("smtp_set_application_data(s-B) previous", smtp_set_application_data (s, "s-B"));
  show ("smtp_get_application_data", smtp_get_application_data (s));
  printf ("smtp_set_application_data_release(s-C, release)\n");
  smtp_set_application_data_release (s, "s-C", release);
  printf ("smtp_set_application_data_release(s-D, release)\n");
  smtp_set_application_data_release (s, "s-D", release);
  show ("smtp_get_application_data", smtp_get_application_data (s));
  printf ("smtp_set_application_data_release(NULL, release)\n");
  smtp_set_application_data_release (s, NULL, release);
  printf ("smtp_set_application_data_release(s-E, NULL)\n");
  smtp_set_application_data_release (s, "s-E", NULL);
  printf ("smtp_set_application_data_release(s-F, release)\n");
  smtp_set_application_data_release (s, "s-F", release);
  show ("smtp_set_application_data(s-G) previous (deprecated setter, no release)",
        smtp_set_application_data (s, "s-G"));
  printf ("smtp_set_application_data_release(s-H, release)\n");
  smtp_set_application_data_release (s, "s-H", release);

  printf ("--- message data\n");
  show ("smtp_message_get_application_data (initial)", smtp_message_get_application_data (m1));
  show ("smtp_message_set_application_data(m1-A) previous", smtp_message_set_application_data (m1, "m1-A"));
  show ("smtp_message_get_application_data", smtp_message_get_application_data (m1));
  printf ("smtp_message_set_application_data_release(m1-B, release)\n");
  smtp_message_set_application_data_release (m1, "m1-B", release);
  printf ("smtp_message_set_application_data_release(m1-C, release)\n");
  smtp_message_set_application_data_release (m1, "m1-C", release);
  smtp_message_set_application_data_release (m2, "m2-A", release);
  smtp_message_set_application_data_release (m3, "m3-A", NULL);
  show ("smtp_message_get_application_data(m1)", smtp_message_get_application_data (m1));

  printf ("--- recipient data\n");
  show ("smtp_recipient_get_application_data (initial)", smtp_recipient_get_application_data (r1));
  show ("smtp_recipient_set_application_data(r1-A) previous", smtp_recipient_set_application_data (r1, "r1-A"));
  printf ("smtp_recipient_set_application_data_release(r1-B, release)\n");
  smtp_recipient_set_application_data_release (r1, "r1-B", release);
  printf ("smtp_recipient_set_application_data_release(r1-C, release)\n");
  smtp_recipient_set_application_data_release (r1, "r1-C", release);
  smtp_recipient_set_application_data_release (r2, "r2-A", release);
  smtp_recipient_set_application_data_release (r3, "r3-A", release);
  show ("smtp_recipient_get_application_data(r1)", smtp_recipient_get_application_data (r1));

  printf ("--- etrn node data\n");
  show ("smtp_etrn_get_application_data (initial)", smtp_etrn_get_application_data (e1));
  show ("smtp_etrn_set_application_data(e1-A) previous", smtp_etrn_set_application_data (e1, "e1-A"));
  printf ("smtp_etrn_set_application_data_release(e1-B, release)\n");
  smtp_etrn_set_application_data_release (e1, "e1-B", release);
  printf ("smtp_etrn_set_application_data_release(e1-C, release)\n");
  smtp_etrn_set_application_data_release (e1, "e1-C", release);
  smtp_etrn_set_application_data_release (e2, "e2-A", release);
  show ("smtp_etrn_get_application_data(e1)", smtp_etrn_get_application_data (e1));

  printf ("--- destroy (release order)\n");
  printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
  return 0;
}
