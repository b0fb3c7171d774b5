/* SMTP AUTH through the auth-client API and the SASL plugins.

   usage: t_auth HOST:PORT [plain=1] [preload=MECH] [nointeract=1]
                           [refuse=1] [noctx=1]
     plain=1       auth_set_mechanism_flags (ctx, AUTH_PLUGIN_PLAIN, 0)
     preload=MECH  call auth_set_mechanism (ctx, MECH) before the session
                   (e.g. CRAMMD5: the plugin file name differs from the
                   mechanism name, see the reference)
     nointeract=1  no interact callback (auth_client_enabled() == 0)
     refuse=1      the interact callback returns 0
     noctx=1       no smtp_auth_set_context at all
     nopass=1      the interact callback leaves the pass phrase NULL
     starttls=1    STARTTLS required first (AUTH after the new EHLO)
     external=ID   auth_set_external_id (ctx, ID)  */
#include "common.h"

static int interact (auth_client_request_t req, char **result, int fields,
                     void *arg)
{
  static char user[] = "user", pass[] = "secret", realm[] = "example.org";
  int i;
  UNUSED (arg);
  printf ("interact: %d field(s)\n", fields);
  for (i = 0; i < fields; i++)
    {
      printf ("  field %d name=", i);
      put_str (req[i].name);
      printf (" flags=0x%x prompt=", req[i].flags);
      put_str (req[i].prompt);
      printf (" size=%u\n", req[i].size);
      result[i] = (req[i].flags & AUTH_PASS) ? (opt_int ("nopass", 0) ? NULL : pass)
                : (req[i].flags & AUTH_USER) ? user : realm;
    }
  return opt_int ("refuse", 0) ? 0 : 1;
}

int main (int argc, char **argv)
{
  smtp_session_t s;
  smtp_message_t m;
  auth_context_t ctx;
  const char *v;

  init_test (argc, argv);
  s = new_session (argv[1]);
  smtp_set_monitorcb (s, monitor_cb, &g_event_arg, 0);
  m = smtp_add_message (s);
  reg (m, "m1");
  smtp_set_reverse_path (m, "sender@example.org");
  reg (smtp_add_recipient (m, "rcpt@example.org"), "r1");
  fixed_headers (m);
  smtp_set_message_str (m, "Subject: auth\r\n\r\nBody.\r\n");

  if (opt_int ("starttls", 0))
    printf ("smtp_starttls_enable=%d\n", smtp_starttls_enable (s, Starttls_REQUIRED));
  auth_client_init ();
  ctx = auth_create_context ();
  if (opt_int ("plain", 0))
    printf ("auth_set_mechanism_flags=%d\n",
            auth_set_mechanism_flags (ctx, AUTH_PLUGIN_PLAIN, 0));
  if (!opt_int ("nointeract", 0))
    printf ("auth_set_interact_cb=%d\n", auth_set_interact_cb (ctx, interact, NULL));
  printf ("auth_client_enabled=%d\n", auth_client_enabled (ctx));
  if ((v = opt_str ("external", NULL)) != NULL)
    printf ("auth_set_external_id=%d\n", auth_set_external_id (ctx, v));
  if ((v = opt_str ("preload", NULL)) != NULL)
    {
      printf ("auth_set_mechanism(%s)=%d\n", v, auth_set_mechanism (ctx, v));
      printf ("auth_mechanism_name=");
      put_str (auth_mechanism_name (ctx));
      printf (" auth_get_ssf=%d\n", auth_get_ssf (ctx));
    }
  if (!opt_int ("noctx", 0))
    printf ("smtp_auth_set_context=%d\n", smtp_auth_set_context (s, ctx));

  run_session (s);
  print_all_statuses (s);
  printf ("auth_mechanism_name after=");
  put_str (auth_mechanism_name (ctx));
  printf ("\n");
  printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
  printf ("auth_destroy_context=%d\n", auth_destroy_context (ctx));
  auth_client_exit ();
  return 0;
}
