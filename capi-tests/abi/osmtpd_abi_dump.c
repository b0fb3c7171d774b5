/* Prints every layout, enum value and macro expansion of opensmtpd.h, so
 * that the outputs built against Debian's header and against ours can be
 * compared (check_headers). Debian's header is not self-contained: the
 * includes below come first, as in every program that uses it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <opensmtpd.h>

#define FIELD(f) printf ("offsetof(%s) = %zu, size %zu\n", #f, \
                         offsetof (struct osmtpd_ctx, f), sizeof (((struct osmtpd_ctx *) 0)->f))
#define VALUE(v) printf ("%s = %ld\n", #v, (long) (v))

int main (void)
{
  printf ("sizeof(struct osmtpd_ctx) = %zu, align %zu\n", sizeof (struct osmtpd_ctx),
          _Alignof (struct osmtpd_ctx));
  printf ("sizeof(struct greeting) = %zu\n", sizeof (struct greeting));
  printf ("sizeof(enum osmtpd_phase) = %zu, sizeof(enum osmtpd_status) = %zu, "
          "sizeof(enum osmtpd_type) = %zu\n", sizeof (enum osmtpd_phase),
          sizeof (enum osmtpd_status), sizeof (enum osmtpd_type));
  /* Whether each enum is signed (C gives unsigned int to enums without
     negative values in GCC): a program comparing with -1 depends on it. */
  {
    enum osmtpd_phase p = (enum osmtpd_phase) 0;
    enum osmtpd_status s = (enum osmtpd_status) 0;
    enum osmtpd_type t = (enum osmtpd_type) 0;
    p--, s--, t--;
    printf ("0 - 1 as phase: %lld, as status: %lld, as type: %lld\n",
            (long long) p, (long long) s, (long long) t);
  }
  FIELD (type); FIELD (phase); FIELD (version_major); FIELD (version_minor); FIELD (tm);
  FIELD (incoming); FIELD (reqid); FIELD (token); FIELD (src); FIELD (dst); FIELD (rdns);
  FIELD (fcrdns); FIELD (identity); FIELD (greeting); FIELD (greeting.identity);
  FIELD (ciphers); FIELD (msgid); FIELD (mailfrom); FIELD (rcptto); FIELD (evpid);
  FIELD (local_session); FIELD (local_message);
  VALUE (OSMTPD_STATUS_OK); VALUE (OSMTPD_STATUS_TEMPFAIL); VALUE (OSMTPD_STATUS_PERMFAIL);
  VALUE (OSMTPD_TYPE_FILTER); VALUE (OSMTPD_TYPE_REPORT);
  VALUE (OSMTPD_PHASE_CONNECT); VALUE (OSMTPD_PHASE_HELO); VALUE (OSMTPD_PHASE_EHLO);
  VALUE (OSMTPD_PHASE_STARTTLS); VALUE (OSMTPD_PHASE_AUTH); VALUE (OSMTPD_PHASE_MAIL_FROM);
  VALUE (OSMTPD_PHASE_RCPT_TO); VALUE (OSMTPD_PHASE_DATA); VALUE (OSMTPD_PHASE_DATA_LINE);
  VALUE (OSMTPD_PHASE_RSET); VALUE (OSMTPD_PHASE_QUIT); VALUE (OSMTPD_PHASE_NOOP);
  VALUE (OSMTPD_PHASE_HELP); VALUE (OSMTPD_PHASE_WIZ); VALUE (OSMTPD_PHASE_COMMIT);
  VALUE (OSMTPD_PHASE_LINK_CONNECT); VALUE (OSMTPD_PHASE_LINK_DISCONNECT);
  VALUE (OSMTPD_PHASE_LINK_GREETING); VALUE (OSMTPD_PHASE_LINK_IDENTIFY);
  VALUE (OSMTPD_PHASE_LINK_TLS); VALUE (OSMTPD_PHASE_TX_BEGIN); VALUE (OSMTPD_PHASE_TX_MAIL);
  VALUE (OSMTPD_PHASE_TX_RCPT); VALUE (OSMTPD_PHASE_TX_ENVELOPE); VALUE (OSMTPD_PHASE_TX_DATA);
  VALUE (OSMTPD_PHASE_TX_COMMIT); VALUE (OSMTPD_PHASE_TX_ROLLBACK);
  VALUE (OSMTPD_PHASE_PROTOCOL_CLIENT); VALUE (OSMTPD_PHASE_PROTOCOL_SERVER);
  VALUE (OSMTPD_PHASE_FILTER_RESPONSE); VALUE (OSMTPD_PHASE_TIMEOUT);
  VALUE (OSMTPD_NEED_SRC); VALUE (OSMTPD_NEED_DST); VALUE (OSMTPD_NEED_RDNS);
  VALUE (OSMTPD_NEED_FCRDNS); VALUE (OSMTPD_NEED_IDENTITY); VALUE (OSMTPD_NEED_GREETING);
  VALUE (OSMTPD_NEED_CIPHERS); VALUE (OSMTPD_NEED_MSGID); VALUE (OSMTPD_NEED_MAILFROM);
  VALUE (OSMTPD_NEED_RCPTTO); VALUE (OSMTPD_NEED_EVPID);
  /* The macros are unparenthesised: these expand differently from what
     they seem to say, and must expand alike with both headers. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wparentheses"
  VALUE (OSMTPD_NEED_MSGID + 1);
  VALUE (2 * OSMTPD_NEED_EVPID);
#pragma GCC diagnostic pop
  VALUE (OSMTPD_NEED_SRC | OSMTPD_NEED_DST);
  return 0;
}
