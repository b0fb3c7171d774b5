/* The libopensmtpd benchmark filter, built once against Debian's header:
 * data lines echoed, MAIL FROM / RCPT TO / COMMIT proceeded, and the NEEDs
 * of a typical filter (MAILFROM, RCPTTO, IDENTITY).
 */
#include <stdint.h>
#include <time.h>
#include <opensmtpd.h>

static void dataline (struct osmtpd_ctx *ctx, const char *line)
{
  osmtpd_filter_dataline (ctx, "%s", line);
}

static void proceed_with (struct osmtpd_ctx *ctx, const char *arg)
{
  (void) arg;
  osmtpd_filter_proceed (ctx);
}

static void commit (struct osmtpd_ctx *ctx)
{
  osmtpd_filter_proceed (ctx);
}

int main (void)
{
  osmtpd_register_filter_dataline (dataline);
  osmtpd_register_filter_mailfrom (proceed_with);
  osmtpd_register_filter_rcptto (proceed_with);
  osmtpd_register_filter_commit (commit);
  osmtpd_need (OSMTPD_NEED_MAILFROM | OSMTPD_NEED_RCPTTO | OSMTPD_NEED_IDENTITY);
  osmtpd_run ();
  return 0;
}
