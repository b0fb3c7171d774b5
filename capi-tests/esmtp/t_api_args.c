/* Every exported function called with NULL / invalid arguments.

   Before each call smtp_errno() is set to a sentinel (2, NOTHING_TO_DO,
   see errno_sentinel in common.h), so the output shows whether the call
   set an error.  No server is contacted.

   Calls that crash the original libESMTP 1.1.0 are NOT made here (see
   t_crash.c, run as "divergent" cases):
     smtp_enumerate_recipients (m, NULL, arg)   NULL callback is called
     smtp_dsn_set_envid (m, NULL)               strdup (NULL)
     smtp_dsn_set_orcpt (r, NULL, addr) / (r, type, NULL)   strdup (NULL)
     smtp_starttls_set_ctx (s, NULL)            SSL_CTX_up_ref (NULL)
     smtp_set_header (m, "From", "phrase", NULL)  strdup (NULL)  */
#define LIBESMTP_ENABLE_DEPRECATED_SYMBOLS 1
#include <openssl/ssl.h>
#include "common.h"

static void enum_msg (smtp_message_t m, void *arg) { UNUSED (m); UNUSED (arg); }
static void enum_node (smtp_etrn_node_t n, int o, const char *d, void *arg)
{ UNUSED (n); UNUSED (o); UNUSED (d); UNUSED (arg); }
static const char *msgcb (void **ctx, int *len, void *arg)
{ UNUSED (ctx); UNUSED (arg); if (len) *len = 0; return NULL; }
static void release (void *p) { printf ("    release(%s)\n", (const char *) p); }
static int interact (auth_client_request_t req, char **res, int n, void *arg)
{ UNUSED (req); UNUSED (res); UNUSED (n); UNUSED (arg); return 0; }

int main (int argc, char **argv)
{
  smtp_session_t s, s2;
  smtp_message_t m, m2;
  smtp_recipient_t r;
  smtp_etrn_node_t n;
  auth_context_t actx;
  char buf[64];
  int len = -1;
  time_t t0 = 0;

  init_test (argc, argv);
  printf ("initial errno=%d\n", smtp_errno ());
  s = smtp_create_session ();
  m = smtp_add_message (s);
  r = smtp_add_recipient (m, "rcpt@example.org");
  n = smtp_etrn_add_node (s, '@', "example.org");

  printf ("--- session\n");
  CHECK_PTR (smtp_add_message (NULL));
  CHECK_INT (smtp_enumerate_messages (NULL, enum_msg, NULL));
  CHECK_INT (smtp_enumerate_messages (s, NULL, NULL));
  CHECK_INT (smtp_set_server (NULL, "127.0.0.1:25"));
  CHECK_INT (smtp_set_server (s, NULL));
  CHECK_STR (smtp_get_server_name (NULL));
  CHECK_STR (smtp_get_server_name (s));
  CHECK_INT (smtp_set_hostname (NULL, "client.test"));
  CHECK_INT (smtp_set_hostname (s, NULL));
  CHECK_INT (smtp_set_eventcb (NULL, event_cb, NULL));
  CHECK_INT (smtp_set_eventcb (s, NULL, NULL));
  CHECK_INT (smtp_set_monitorcb (NULL, monitor_cb, NULL, 0));
  CHECK_INT (smtp_set_monitorcb (s, NULL, NULL, 1));
  CHECK_INT (smtp_option_require_all_recipients (NULL, 1));
  CHECK_INT (smtp_option_require_all_recipients (s, 42));
  CHECK_INT (smtp_start_session (NULL));
  CHECK_INT (smtp_start_session (s));           /* no server set */
  CHECK_INT (smtp_set_server (s, "127.0.0.1:1"));
  CHECK_STR (smtp_get_server_name (s));
  CHECK_INT (smtp_start_session (s));           /* message without callback */
  CHECK_INT (smtp_destroy_session (NULL));

  printf ("--- timeouts\n");
  CHECK_INT (smtp_set_timeout (NULL, Timeout_GREETING, 1000));
  CHECK_INT (smtp_set_timeout (s, Timeout_GREETING, 0));
  CHECK_INT (smtp_set_timeout (s, Timeout_GREETING, -5));
  CHECK_INT (smtp_set_timeout (s, 5, 1000));
  CHECK_INT (smtp_set_timeout (s, -1, 1000));
  CHECK_INT (smtp_set_timeout (s, 5 | Timeout_OVERRIDE_RFC2822_MINIMUM, 1000));

  printf ("--- message\n");
  CHECK_INT (smtp_set_reverse_path (NULL, "a@b"));
  CHECK_INT (smtp_set_reverse_path (m, NULL));
  CHECK_PTR (smtp_add_recipient (NULL, "a@b"));
  CHECK_PTR (smtp_add_recipient (m, NULL));
  CHECK_INT (smtp_enumerate_recipients (NULL, print_rcpt_cb, NULL));
  CHECK_INT (smtp_set_messagecb (NULL, msgcb, NULL));
  CHECK_INT (smtp_set_messagecb (m, NULL, NULL));
  CHECK_PTR (smtp_message_transfer_status (NULL));
  CHECK_PTR (smtp_reverse_path_status (NULL));
  CHECK_INT (smtp_message_reset_status (NULL));
  CHECK_PTR (smtp_recipient_status (NULL));
  CHECK_INT (smtp_recipient_check_complete (NULL));
  CHECK_INT (smtp_recipient_reset_status (NULL));
  CHECK_INT (smtp_message_reset_status (m));
  CHECK_INT (smtp_recipient_reset_status (r));
  CHECK_INT (smtp_recipient_check_complete (r));

  printf ("--- headers\n");
  CHECK_INT (smtp_set_header (NULL, "To", NULL, "a@b"));
  CHECK_INT (smtp_set_header (m, NULL, "x"));
  CHECK_INT (smtp_set_header_option (NULL, "To", Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, NULL, Hdr_OVERRIDE, 1));
  CHECK_INT (smtp_set_header_option (m, "X-Opt", (enum header_option) 7, 1));
  CHECK_INT (smtp_set_header (m, "Date", &t0));
  CHECK_INT (smtp_set_header (m, "Date", &t0));
  CHECK_INT (smtp_set_header (m, "Return-Path", "a@b"));
  CHECK_INT (smtp_set_header (m, "Content-Type", "text/plain"));
  CHECK_INT (smtp_set_header (m, "Resent-From", "a@b"));
  CHECK_INT (smtp_set_resent_headers (NULL, 0));
  CHECK_INT (smtp_set_resent_headers (m, 1));
  CHECK_INT (smtp_set_resent_headers (m, 0));

  printf ("--- application data\n");
  CHECK_PTR (smtp_set_application_data (NULL, "x"));
  CHECK_VOID (smtp_set_application_data_release (NULL, "x", release));
  CHECK_PTR (smtp_get_application_data (NULL));
  CHECK_PTR (smtp_message_set_application_data (NULL, "x"));
  CHECK_VOID (smtp_message_set_application_data_release (NULL, "x", release));
  CHECK_PTR (smtp_message_get_application_data (NULL));
  CHECK_PTR (smtp_recipient_set_application_data (NULL, "x"));
  CHECK_VOID (smtp_recipient_set_application_data_release (NULL, "x", release));
  CHECK_PTR (smtp_recipient_get_application_data (NULL));
  CHECK_PTR (smtp_etrn_set_application_data (NULL, "x"));
  CHECK_VOID (smtp_etrn_set_application_data_release (NULL, "x", release));
  CHECK_PTR (smtp_etrn_get_application_data (NULL));

  printf ("--- extensions\n");
  CHECK_INT (smtp_dsn_set_ret (NULL, Ret_FULL));
  CHECK_INT (smtp_dsn_set_envid (NULL, "id"));
  CHECK_INT (smtp_dsn_set_notify (NULL, Notify_SUCCESS));
  CHECK_INT (smtp_dsn_set_orcpt (NULL, "rfc822", "a@b"));
  CHECK_INT (smtp_size_set_estimate (NULL, 100));
  CHECK_INT (smtp_8bitmime_set_body (NULL, E8bitmime_8BITMIME));
  CHECK_INT (smtp_deliverby_set_mode (NULL, 100, By_NOTIFY, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, 999999999, By_NOTIFY, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, 1000000000, By_NOTIFY, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, -999999999, By_NOTIFY, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, -1000000000, By_NOTIFY, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, 0, By_RETURN, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, -5, By_RETURN, 0));
  CHECK_INT (smtp_deliverby_set_mode (m, 5, By_RETURN, 1));
  CHECK_INT (smtp_deliverby_set_mode (m, 0, By_NOTSET, 0));
  CHECK_PTR (smtp_etrn_add_node (NULL, 0, "example.org"));
  CHECK_PTR (smtp_etrn_add_node (s, 0, NULL));
  CHECK_PTR (smtp_etrn_add_node (s, 'x', "example.org"));
  CHECK_PTR (smtp_etrn_add_node (s, 0, "example.org"));
  CHECK_INT (smtp_etrn_enumerate_nodes (NULL, enum_node, NULL));
  CHECK_INT (smtp_etrn_enumerate_nodes (s, NULL, NULL));
  CHECK_PTR (smtp_etrn_node_status (NULL));
  CHECK_PTR (smtp_etrn_node_status (n));
  CHECK_INT (smtp_starttls_enable (NULL, Starttls_ENABLED));
  CHECK_INT (smtp_starttls_enable (s, Starttls_DISABLED));
  CHECK_INT (smtp_starttls_set_ctx (NULL, NULL));
  CHECK_INT (smtp_starttls_set_password_cb (NULL, NULL));
  CHECK_INT (smtp_auth_set_context (NULL, NULL));
  CHECK_INT (smtp_auth_set_context (s, NULL));

  printf ("--- errors and version\n");
  CHECK_STR (smtp_strerror (0, NULL, 10));
  CHECK_STR (smtp_strerror (0, buf, 0));
  CHECK_INT (smtp_version (NULL, 10, Ver_VERSION));
  CHECK_INT (smtp_version (buf, 0, Ver_VERSION));
  CHECK_INT (smtp_version (buf, sizeof buf, 3));
  CHECK_INT (smtp_version (buf, sizeof buf, -1));

  printf ("--- auth (never sets smtp_errno)\n");
  CHECK_VOID (auth_client_init ());
  CHECK_PTR (actx = auth_create_context ());
  CHECK_INT (auth_destroy_context (NULL));
  CHECK_INT (auth_set_mechanism_flags (NULL, AUTH_PLUGIN_PLAIN, 0));
  CHECK_INT (auth_set_mechanism_ssf (NULL, 0));
  CHECK_INT (auth_set_interact_cb (NULL, interact, NULL));
  CHECK_INT (auth_client_enabled (NULL));
  CHECK_INT (auth_client_enabled (actx));
  CHECK_INT (auth_set_mechanism (NULL, "PLAIN"));
  CHECK_INT (auth_set_mechanism (actx, NULL));
  CHECK_INT (auth_set_mechanism (actx, "NO-SUCH-MECH"));
  CHECK_STR (auth_mechanism_name (NULL));
  CHECK_STR (auth_mechanism_name (actx));
  CHECK_PTR (auth_response (NULL, NULL, &len));
  CHECK_PTR (auth_response (actx, NULL, &len));
  CHECK_INT (auth_get_ssf (NULL));
  CHECK_INT (auth_get_ssf (actx));
  CHECK_VOID (auth_encode (NULL, NULL, NULL, 0, NULL));
  CHECK_VOID (auth_decode (NULL, NULL, NULL, 0, NULL));
  CHECK_INT (auth_set_external_id (NULL, "id"));
  CHECK_INT (auth_set_interact_cb (actx, interact, NULL));
  CHECK_INT (auth_client_enabled (actx));
  CHECK_INT (auth_destroy_context (actx));
  CHECK_VOID (auth_client_exit ());

  printf ("--- destroy\n");
  s2 = smtp_create_session ();
  m2 = smtp_add_message (s2);
  smtp_message_set_application_data_release (m2, "m2-data", release);
  CHECK_INT (smtp_destroy_session (s2));
  CHECK_INT (smtp_destroy_session (s));
  return 0;
}
