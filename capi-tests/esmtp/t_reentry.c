/* Re-entrancy: a callback the library calls while it is using a session
   tries to destroy the session or change it, its messages or recipients.
   While the session runs, each such call must fail with SMTP_ERR_INVAL and
   leave the session as it was; from an enumeration's callback only
   smtp_destroy_session fails (resetting statuses there is libESMTP's idiom
   for a second run, see rerun_after_reset).  Reading and the application's
   own data work in both.  libESMTP 1.1.0 frees or changes what it is
   using (divergent, see COMPATIBILITY.md A10).

   usage: t_reentry HOST:PORT mode=NAME
     event_connect    the event callback, at SMTP_EV_CONNECT
     event_rcpt       the event callback, at the first SMTP_EV_RCPTSTATUS
     monitor          the monitor callback, at its first call
     messagecb        the message callback, at its first read
     enum_messages    an smtp_enumerate_messages callback, before the run
     enum_recipients  an smtp_enumerate_recipients callback, before the run
     enum_etrn        an smtp_etrn_enumerate_nodes callback (no run)  */
#include "common.h"

static smtp_session_t g_s;
static smtp_message_t g_m;
static smtp_recipient_t g_r;
static const char *g_mode;
static int poked, app_data;

/* From an enumeration: nothing may be freed.  */
static void poke_walk (const char *where)
{
  if (poked)
    return;
  poked = 1;
  printf ("--- in %s\n", where);
  CHECK_INT (smtp_destroy_session (g_s));
  /* still allowed */
  CHECK_INT (smtp_message_reset_status (g_m));
  CHECK_INT (smtp_recipient_reset_status (g_r));
  CHECK_PTR (smtp_reverse_path_status (g_m));
  CHECK_VOID (smtp_message_set_application_data_release (g_m, &app_data, NULL));
  CHECK_PTR (smtp_message_get_application_data (g_m));
  printf ("--- back\n");
}

/* From a running session: nothing may change.  */
static void poke (const char *where)
{
  if (poked)
    return;
  poked = 1;
  printf ("--- in %s\n", where);
  CHECK_INT (smtp_destroy_session (g_s));
  CHECK_INT (smtp_start_session (g_s));
  CHECK_INT (smtp_set_server (g_s, "127.0.0.1:1"));
  CHECK_INT (smtp_set_hostname (g_s, "other.test"));
  CHECK_PTR (smtp_add_message (g_s));
  CHECK_PTR (smtp_etrn_add_node (g_s, 0, "example.org"));
  CHECK_INT (smtp_set_eventcb (g_s, NULL, NULL));
  CHECK_INT (smtp_set_monitorcb (g_s, NULL, NULL, 0));
  CHECK_INT (smtp_set_timeout (g_s, Timeout_GREETING, 1000));
  CHECK_INT (smtp_starttls_enable (g_s, Starttls_REQUIRED));
  CHECK_INT (smtp_option_require_all_recipients (g_s, 1));
  CHECK_PTR (smtp_add_recipient (g_m, "late@example.org"));
  CHECK_INT (smtp_set_reverse_path (g_m, "other@example.org"));
  CHECK_INT (smtp_set_message_str (g_m, "Subject: replaced\r\n\r\nx\r\n"));
  CHECK_INT (smtp_message_reset_status (g_m));
  CHECK_INT (smtp_set_header (g_m, "To", NULL, "x@example.org"));
  CHECK_INT (smtp_set_header_option (g_m, "Subject", Hdr_PROHIBIT, 1));
  CHECK_INT (smtp_dsn_set_ret (g_m, Ret_FULL));
  CHECK_INT (smtp_size_set_estimate (g_m, 100));
  CHECK_INT (smtp_recipient_reset_status (g_r));
  CHECK_INT (smtp_dsn_set_notify (g_r, Notify_SUCCESS));
  CHECK_INT (smtp_dsn_set_orcpt (g_r, "rfc822", "x@example.org"));
  /* still allowed */
  CHECK_PTR (smtp_reverse_path_status (g_m));
  CHECK_PTR (smtp_recipient_status (g_r));
  CHECK_VOID (smtp_message_set_application_data_release (g_m, &app_data, NULL));
  CHECK_PTR (smtp_message_get_application_data (g_m));
  printf ("--- back\n");
}

static void ev_cb (smtp_session_t s, int ev, void *arg, ...)
{
  UNUSED (s);
  UNUSED (arg);
  if (ev == SMTP_EV_MESSAGEDATA)
    return;
  printf ("event %s\n", event_name (ev));
  if (ev == SMTP_EV_CONNECT && strcmp (g_mode, "event_connect") == 0)
    poke ("CONNECT");
  if (ev == SMTP_EV_RCPTSTATUS && strcmp (g_mode, "event_rcpt") == 0)
    poke ("RCPTSTATUS");
}

static void mon_cb (const char *buf, int len, int writing, void *arg)
{
  UNUSED (buf);
  UNUSED (len);
  UNUSED (writing);
  UNUSED (arg);
  poke ("monitor");
}

static const char *msg_cb (void **ctx, int *len, void *arg)
{
  static const char text[] = "Subject: reentry\r\n\r\nBody.\r\n";
  static int sent;
  UNUSED (ctx);
  UNUSED (arg);
  if (len == NULL)
    {
      sent = 0;
      return NULL;
    }
  poke ("message callback");
  if (sent)
    {
      *len = 0;
      return NULL;
    }
  sent = 1;
  *len = sizeof text - 1;
  return text;
}

static void enum_msg_cb (smtp_message_t m, void *arg)
{
  UNUSED (arg);
  printf ("enumerated %s\n", rname (m));
  poke_walk ("smtp_enumerate_messages");
}

static void enum_rcpt_cb (smtp_recipient_t r, const char *mailbox, void *arg)
{
  UNUSED (mailbox);
  UNUSED (arg);
  printf ("enumerated %s\n", rname (r));
  poke_walk ("smtp_enumerate_recipients");
}

static void enum_etrn_cb (smtp_etrn_node_t n, int option, const char *domain, void *arg)
{
  UNUSED (n);
  UNUSED (option);
  UNUSED (arg);
  printf ("enumerated node %s\n", domain);
  poke_walk ("smtp_etrn_enumerate_nodes");
}

int main (int argc, char **argv)
{
  int send = 1;

  init_test (argc, argv);
  g_mode = opt_str ("mode", "");
  g_s = new_session (argv[1]);
  smtp_set_eventcb (g_s, ev_cb, NULL);
  g_m = smtp_add_message (g_s);
  reg (g_m, "m1");
  smtp_set_reverse_path (g_m, "sender@example.org");
  g_r = smtp_add_recipient (g_m, "rcpt1@example.org");
  reg (g_r, "r1");
  fixed_headers (g_m);
  smtp_set_message_str (g_m, "Subject: reentry\r\n\r\nBody.\r\n");
  printf ("--- mode %s\n", g_mode);

  if (strcmp (g_mode, "event_connect") == 0 || strcmp (g_mode, "event_rcpt") == 0)
    ;
  else if (strcmp (g_mode, "monitor") == 0)
    CHECK_INT (smtp_set_monitorcb (g_s, mon_cb, NULL, 0));
  else if (strcmp (g_mode, "messagecb") == 0)
    CHECK_INT (smtp_set_messagecb (g_m, msg_cb, NULL));
  else if (strcmp (g_mode, "enum_messages") == 0)
    CHECK_INT (smtp_enumerate_messages (g_s, enum_msg_cb, NULL));
  else if (strcmp (g_mode, "enum_recipients") == 0)
    CHECK_INT (smtp_enumerate_recipients (g_m, enum_rcpt_cb, NULL));
  else if (strcmp (g_mode, "enum_etrn") == 0)
    {
      smtp_etrn_add_node (g_s, 0, "example.net");
      CHECK_INT (smtp_etrn_enumerate_nodes (g_s, enum_etrn_cb, NULL));
      send = 0;
    }
  else
    {
      printf ("unknown mode\n");
      return 2;
    }
  if (send)
    {
      run_session (g_s);
      print_all_statuses (g_s);
    }
  printf ("smtp_destroy_session=%d\n", smtp_destroy_session (g_s));
  return 0;
}
