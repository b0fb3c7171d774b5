/* Sends one message with STARTTLS required and reports what the TLS events
 * showed: the SSL * handed to SMTP_EV_STARTTLS_OK is queried with OpenSSL.
 * Exit status 0 only if TLS was established and the message accepted.
 *
 *   starttls_client HOST:PORT FROM TO
 */
#include <stdio.h>
#include <string.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <libesmtp.h>

static int tls_ok;

static void event_cb (smtp_session_t session, int event_no, void *arg, ...)
{
  va_list ap;
  (void) session;
  (void) arg;
  va_start (ap, arg);
  if (event_no == SMTP_EV_STARTTLS_OK)
    {
      SSL *ssl = va_arg (ap, SSL *);
      const char *cipher = va_arg (ap, const char *);
      int bits = va_arg (ap, int);
      X509 *peer = SSL_get1_peer_certificate (ssl);
      char cn[256] = "";
      if (peer != NULL)
        {
          X509_NAME_get_text_by_NID (X509_get_subject_name (peer), NID_commonName, cn, sizeof cn);
          X509_free (peer);
        }
      printf ("STARTTLS_OK %s %s (%d bits), server certificate CN=%s\n", SSL_get_version (ssl),
              cipher, bits, cn);
      tls_ok = 1;
    }
  else if (event_no >= SMTP_EV_WEAK_CIPHER && event_no <= SMTP_EV_UNUSABLE_CA_LIST)
    printf ("TLS event %d: refused\n", event_no);
  va_end (ap);
}

int main (int argc, char **argv)
{
  static const char body[] = "Subject: through a real MTA over STARTTLS\r\n\r\nHello over TLS.\r\n";
  smtp_session_t s;
  smtp_message_t m;
  int ok;
  if (argc != 4)
    return 2;
  s = smtp_create_session ();
  smtp_set_server (s, argv[1]);
  smtp_set_hostname (s, "client.test");
  smtp_set_eventcb (s, event_cb, NULL);
  smtp_starttls_enable (s, Starttls_REQUIRED);
  m = smtp_add_message (s);
  smtp_set_reverse_path (m, argv[2]);
  smtp_add_recipient (m, argv[3]);
  smtp_set_message_str (m, (void *) body);
  ok = smtp_start_session (s);
  printf ("smtp_start_session=%d message status %d\n", ok, smtp_message_transfer_status (m)->code);
  ok = ok && tls_ok && smtp_message_transfer_status (m)->code / 100 == 2;
  smtp_destroy_session (s);
  return ok ? 0 : 1;
}
