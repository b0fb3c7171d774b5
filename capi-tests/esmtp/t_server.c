/* smtp_set_server forms: ":port" only, host name, unknown host, unknown
   service, service name, no port (default 587), refused port, IPv6 literal
   syntax, and smtp_get_server_name before/after the session.

   argv[1] is the test server (127.0.0.1:PORT); it accepts 2 connections
   (one through "localhost:PORT", one through "127.0.0.1:PORT").  */
#include "common.h"

static void try_server (const char *hostport)
{
  smtp_session_t s = new_session (NULL);
  smtp_message_t m = smtp_add_message (s);
  reg (m, "m1");
  smtp_set_reverse_path (m, "sender@example.org");
  reg (smtp_add_recipient (m, "rcpt@example.org"), "r1");
  fixed_headers (m);
  smtp_set_message_str (m, "Subject: server test\r\n\r\nBody.\r\n");
  printf ("=== smtp_set_server(");
  put_str (hostport);
  printf (")=%d\n", smtp_set_server (s, hostport));
  printf ("smtp_get_server_name before=");
  put_str (smtp_get_server_name (s));
  printf ("\n");
  errno_sentinel ();
  printf ("smtp_start_session=%d", smtp_start_session (s));
  show_errno ();
  printf ("smtp_get_server_name after=");
  put_str (smtp_get_server_name (s));
  printf ("\n");
  print_all_statuses (s);
  smtp_destroy_session (s);
}

int main (int argc, char **argv)
{
  char buf[128];
  const char *port;
  smtp_session_t s;

  init_test (argc, argv);
  port = strchr (argv[1], ':') + 1;

  snprintf (buf, sizeof buf, ":%s", port);
  try_server (buf);
  snprintf (buf, sizeof buf, "localhost:%s", port);
  try_server (buf);
  try_server (argv[1]);
  try_server ("127.0.0.1:no-such-service");
  try_server ("no-such-host.invalid:25");
  try_server ("no-such-host.invalid");
  try_server ("[::1]:25");
  try_server ("127.0.0.1:1");
  try_server ("127.0.0.1:tcpmux");   /* service name -> port 1 (refused) */
  try_server ("127.0.0.1");          /* default port 587, nothing listens */
  try_server ("");

  /* Replacing the server; get_server_name without a session.  */
  s = smtp_create_session ();
  printf ("=== replace\n");
  printf ("smtp_get_server_name (unset)=");
  put_str (smtp_get_server_name (s));
  printf ("\nsmtp_set_server(a.example:1)=%d\n", smtp_set_server (s, "a.example:1"));
  printf ("smtp_set_server(b.example:2)=%d\n", smtp_set_server (s, "b.example:2"));
  printf ("smtp_get_server_name=");
  put_str (smtp_get_server_name (s));
  printf ("\nsmtp_set_server(host:port:extra)=%d\n", smtp_set_server (s, "host:port:extra"));
  printf ("smtp_get_server_name=");
  put_str (smtp_get_server_name (s));
  printf ("\n");
  smtp_destroy_session (s);
  return 0;
}
