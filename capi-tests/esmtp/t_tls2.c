/* STARTTLS and its events, with the SSL * handed to the callbacks examined
   through OpenSSL.

   usage: t_tls2 HOST:PORT [starttls=0|1|2] [ev<N>=V ...] [sessions=N]
                           [ctx=app [cafile=PATH] [clientcert=PATH]
                                    [ciphers=LIST]]
                           [password=right|wrong] [implicit=1] [dsn=1]
                           [monitor=1] [timeout=MS] [reuse=1] [resume=0]
     starttls=N   smtp_starttls_enable (default 1 = Starttls_ENABLED)
     ev<N>=V      set the int out-parameter of event N (ok / quit) to V
     sessions=N   N sessions one after the other (create .. destroy each)
     ctx=app      an application SSL_CTX (TLS_client_method) given to every
                  session with smtp_starttls_set_ctx, then freed by us;
                  cafile=PATH its verify locations, clientcert=PATH its
                  certificate chain + key (one PEM file);
                  ciphers=LIST limits it to TLS 1.2 and these ciphers
     password=W   smtp_starttls_set_password_cb answering the right
                  passphrase of the fixtures ("capi-secret") or a wrong one
     implicit=1   smtp_tls_set_implicit (s, 1) from <libesmtp-ext.h>, an
                  extension of ours; without HAVE_LIBESMTP_EXT the program
                  says so and exits 3
     dsn=1        request DSN (RET=FULL) for the message
     monitor=1    print the protocol monitor (writes as blocks)
     timeout=MS   all protocol timeouts (default 5000; below the RFC minimum)
     reuse=1      in STARTTLS_OK, also SSL_session_reused() of the SSL *
     resume=0     smtp_tls_set_resumption (s, 0) from <libesmtp-ext.h>
                  (exits 3 without it, as implicit=1)

   TLS events are printed with all their arguments; things that vary
   between runs or OpenSSL builds are reduced: the cipher name to
   "present", its bits to "positive", SSL_get_version() to "TLSv1.x".
   Inside the callbacks the SSL * is examined: the peer certificate's
   subject CN (SSL_get_peer_certificate, then X509_free), the protocol
   version, and in STARTTLS_OK the verify result and the local (client)
   certificate's CN.  MESSAGEDATA events are only counted.  */
#define _GNU_SOURCE
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "common.h"
#ifdef HAVE_LIBESMTP_EXT
#include <libesmtp-ext.h>
#endif

#define PASSPHRASE "capi-secret"    /* tls_fixtures.py */

static long g_md_count;

static void put_cn (const char *label, X509 *x)
{
  char buf[256];
  int n;
  printf (" %s=", label);
  if (x == NULL)
    {
      printf ("none");
      return;
    }
  n = X509_NAME_get_text_by_NID (X509_get_subject_name (x), NID_commonName,
                                 buf, sizeof buf);
  if (n < 0)
    printf ("(no CN)");
  else
    put_str (buf);
}

/* Examine the SSL * handed to a TLS event.  */
static void ssl_info (SSL *ssl, int full)
{
  X509 *peer;
  const char *v;
  printf ("\n  ssl:");
  if (ssl == NULL)
    {
      printf (" NULL");
      return;
    }
  peer = SSL_get_peer_certificate (ssl);
  put_cn ("peer_cn", peer);
  if (peer != NULL)
    X509_free (peer);
  v = SSL_get_version (ssl);
  printf (" version=%s", v != NULL && strncmp (v, "TLSv1.", 6) == 0 ? "TLSv1.x" : "other");
  if (full)
    {
      long vr = SSL_get_verify_result (ssl);
      printf (" verify_result=%ld", vr);
      /* not owned: no X509_free */
      put_cn ("local_cn", SSL_get_certificate (ssl));
      if (opt_int ("reuse", 0))
        printf (" reused=%s", SSL_session_reused (ssl) ? "yes" : "no");
    }
}

static void tls_event_cb (smtp_session_t s, int ev, void *arg, ...)
{
  va_list ap;
  const char *str;
  void *ptr;
  int i;
  long l;

  if (ev == SMTP_EV_MESSAGEDATA)
    {
      g_md_count++;
      return;
    }
  printf ("event %d %s session=%s arg=%s", ev, event_name (ev), rname (s),
          arg == &g_event_arg ? "ok" : "WRONG");
  va_start (ap, arg);
  switch (ev)
    {
    case SMTP_EV_MAILSTATUS:
      str = va_arg (ap, const char *);
      printf (" reverse_path=");
      put_str (str);
      printf (" message=%s", rname (va_arg (ap, smtp_message_t)));
      break;
    case SMTP_EV_RCPTSTATUS:
      str = va_arg (ap, const char *);
      printf (" mailbox=");
      put_str (str);
      printf (" recipient=%s", rname (va_arg (ap, smtp_recipient_t)));
      break;
    case SMTP_EV_MESSAGESENT:
      printf (" message=%s", rname (va_arg (ap, smtp_message_t)));
      break;
    case SMTP_EV_SYNTAXWARNING:
    case SMTP_EV_EXTNA_DSN:
    case SMTP_EV_EXTNA_ETRN:
    case SMTP_EV_EXTNA_CHUNKING:
      outparam (ev, "quit_now", va_arg (ap, int *));
      break;
    case SMTP_EV_NO_PEER_CERTIFICATE:
    case SMTP_EV_NO_CLIENT_CERTIFICATE:
      outparam (ev, "ok", va_arg (ap, int *));
      break;
    case SMTP_EV_EXTNA_STARTTLS:
    case SMTP_EV_UNUSABLE_CLIENT_CERTIFICATE:
    case SMTP_EV_UNUSABLE_CA_LIST:
      ptr = va_arg (ap, void *);
      printf (" ptrarg=%s", ptr ? "non-NULL" : "NULL");
      break;
    case SMTP_EV_WEAK_CIPHER:
      i = va_arg (ap, int);
      printf (" bits=%d", i);
      outparam (ev, "ok", va_arg (ap, int *));
      break;
    case SMTP_EV_STARTTLS_OK:
      ptr = va_arg (ap, void *);
      str = va_arg (ap, const char *);
      i = va_arg (ap, int);
      printf (" cipher=%s", str == NULL ? "NULL" : *str ? "present" : "empty");
      if (i > 0)
        printf (" bits=positive");
      else
        printf (" bits=%d", i);
      ssl_info (ptr, 1);
      break;
    case SMTP_EV_INVALID_PEER_CERTIFICATE:
      l = va_arg (ap, long);
      printf (" verify_result=%ld (%s)", l, X509_verify_cert_error_string (l));
      outparam (ev, "ok", va_arg (ap, int *));
      ssl_info (va_arg (ap, SSL *), 0);
      break;
    case SMTP_EV_WRONG_PEER_CERTIFICATE:
      outparam (ev, "ok", va_arg (ap, int *));
      str = va_arg (ap, const char *);
      printf (" name=");
      put_str (str);
      ssl_info (va_arg (ap, SSL *), 0);
      break;
    default:                    /* CONNECT, DISCONNECT, ...: no arguments */
      break;
    }
  va_end (ap);
  printf ("\n");
}

static int g_pw_arg;

static int password_cb (char *buf, int buflen, int rwflag, void *arg)
{
  const char *pw = strcmp (opt_str ("password", ""), "right") == 0
                   ? PASSPHRASE : "not-the-passphrase";
  int n = (int) strlen (pw);
  printf ("password_cb rwflag=%d buflen=%s arg=%s\n", rwflag,
          buflen > n ? "enough" : "SHORT", arg == &g_pw_arg ? "ok" : "WRONG");
  if (n >= buflen)
    return 0;
  memcpy (buf, pw, n + 1);
  return n;
}

static SSL_CTX *app_ctx (void)
{
  SSL_CTX *ctx = SSL_CTX_new (TLS_client_method ());
  const char *v;
  if (ctx == NULL)
    {
      printf ("SSL_CTX_new failed\n");
      exit (2);
    }
  if ((v = opt_str ("cafile", NULL)) != NULL)
    printf ("app SSL_CTX_load_verify_locations=%d\n",
            SSL_CTX_load_verify_locations (ctx, v, NULL));
  if ((v = opt_str ("ciphers", NULL)) != NULL)
    {
      /* TLS 1.2 cipher list, e.g. "eNULL:@SECLEVEL=0" (0 bits: WEAK_CIPHER)
         or "aNULL:@SECLEVEL=0" (no server certificate) */
      printf ("app SSL_CTX_set_max_proto_version(TLS1_2)=%d\n", (int)
              SSL_CTX_set_max_proto_version (ctx, TLS1_2_VERSION));
      printf ("app SSL_CTX_set_cipher_list=%d\n", SSL_CTX_set_cipher_list (ctx, v));
    }
  if ((v = opt_str ("clientcert", NULL)) != NULL)
    {
      printf ("app SSL_CTX_use_certificate_chain_file=%d\n",
              SSL_CTX_use_certificate_chain_file (ctx, v));
      printf ("app SSL_CTX_use_PrivateKey_file=%d\n",
              SSL_CTX_use_PrivateKey_file (ctx, v, SSL_FILETYPE_PEM));
    }
  return ctx;
}

int main (int argc, char **argv)
{
  int i, n;
  SSL_CTX *ctx = NULL;

  init_test (argc, argv);
  if (opt_str ("password", NULL) != NULL)
    printf ("smtp_starttls_set_password_cb=%d\n",
            smtp_starttls_set_password_cb (password_cb, &g_pw_arg));
  if (strcmp (opt_str ("ctx", ""), "app") == 0)
    ctx = app_ctx ();
  n = (int) opt_int ("sessions", 1);
  for (i = 1; i <= n; i++)
    {
      smtp_session_t s;
      smtp_message_t m;
      printf ("=== session %d\n", i);
      s = new_session (argv[1]);
      smtp_set_eventcb (s, tls_event_cb, &g_event_arg);
      short_timeouts (s, opt_int ("timeout", 5000));
      if (opt_int ("monitor", 0))
        smtp_set_monitorcb (s, monitor_cb, &g_event_arg, 0);
      printf ("smtp_starttls_enable=%d\n",
              smtp_starttls_enable (s, (enum starttls_option) opt_int ("starttls", 1)));
      if (ctx != NULL)
        printf ("smtp_starttls_set_ctx=%d\n", smtp_starttls_set_ctx (s, ctx));
      if (opt_int ("implicit", 0))
        {
#ifdef HAVE_LIBESMTP_EXT
          printf ("smtp_tls_set_implicit=%d\n", smtp_tls_set_implicit (s, 1));
#else
          printf ("smtp_tls_set_implicit: not available "
                  "(compiled without <libesmtp-ext.h>)\n");
          return 3;
#endif
        }
      if (!opt_int ("resume", 1))
        {
#ifdef HAVE_LIBESMTP_EXT
          printf ("smtp_tls_set_resumption=%d\n", smtp_tls_set_resumption (s, 0));
#else
          printf ("smtp_tls_set_resumption: not available "
                  "(compiled without <libesmtp-ext.h>)\n");
          return 3;
#endif
        }
      m = smtp_add_message (s);
      reg (m, "m%d", i);
      smtp_set_reverse_path (m, "sender@example.org");
      reg (smtp_add_recipient (m, "rcpt@example.org"), "r%d", i);
      if (opt_int ("dsn", 0))
        printf ("smtp_dsn_set_ret=%d\n", smtp_dsn_set_ret (m, Ret_FULL));
      fixed_headers (m);
      smtp_set_message_str (m, "Subject: tls\r\n\r\nBody.\r\n");
      g_md_count = 0;
      run_session (s);
      if (g_md_count)
        printf ("MESSAGEDATA events: %ld\n", g_md_count);
      print_all_statuses (s);
      printf ("smtp_destroy_session=%d\n", smtp_destroy_session (s));
    }
  if (ctx != NULL)
    SSL_CTX_free (ctx);         /* each session held its own reference */
  return 0;
}
